"""The `realtime` command: serve, manage articles, seed the demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

import msgspec
import uvicorn
from uvicorn.supervisors import Multiprocess

from realtime import moderator_commands, portability
from realtime.config import ConfigError, Settings, load_settings
from realtime.demo import seed_demo
from realtime.errors import AppError
from realtime.live.hub import Hub
from realtime.models import ArticleIn
from realtime.service import CommentService
from realtime.store import SchemaTooNew, Store
from realtime.web.app import CONFIG_ENV, LOG_FORMAT, SETTINGS_ENV, create_app, reloader
from realtime.web.server import uvicorn_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realtime", description=__doc__)
    parser.add_argument("--config", help="a TOML file of settings (see config/default.toml)")
    parser.add_argument(
        "--db", help="the database: an SQLite file's path, or a postgresql://user@host/name URL"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API, the WebSockets and the pages")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on one port (needs a redis:// or postgres hub)",
    )
    _shared(serve)

    article = commands.add_parser("article", help="manage articles")
    article_commands = article.add_subparsers(dest="article_command", required=True)
    put = article_commands.add_parser("put", help="create an article or change its title")
    put.add_argument("slug")
    put.add_argument("--title", required=True)
    put.add_argument("--url")
    _shared(put)

    demo = commands.add_parser("demo", help="add the demo article and comments (once)")
    _shared(demo)

    migrate = commands.add_parser(
        "migrate", help="bring the database's schema up to date, and nothing else"
    )
    _shared(migrate)

    portability.add_commands(commands, _shared)
    moderator_commands.add_commands(commands, _shared)

    # Every argument goes to the load tester's own parser (`realtime loadtest --help`).
    loadtest = commands.add_parser(
        "loadtest", help="load-test a running server", add_help=False, prefix_chars="\0"
    )
    loadtest.add_argument("args", nargs="*")
    return parser


def _shared(sub: argparse.ArgumentParser) -> None:
    # Accept --config/--db after the subcommand too: `realtime serve --db x.db`.
    sub.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "loadtest":
        from realtime.loadtest import main as loadtest  # needs no server settings

        return loadtest(args.args)
    try:
        settings = load_settings(
            args.config,
            db=args.db,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
        )
    except ConfigError as exc:
        print(f"realtime: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    if args.command == "serve":
        if args.workers < 1 or (args.workers > 1 and settings.hub.startswith("memory://")):
            print(
                "realtime: --workers above 1 needs hub = a redis:// URL or postgres",
                file=sys.stderr,
            )
            return 2
        if not _migrated(settings):
            return 2
        serve(settings, args.workers, args.config)
        return 0
    if args.command == "migrate":
        return 0 if _migrated(settings, report=True) else 2
    if args.command in portability.COMMANDS:
        return portability.run(args, settings)
    if args.command in moderator_commands.COMMANDS:
        return moderator_commands.run(args, settings)
    try:
        if args.command == "article":
            asyncio.run(_put_article(settings, args.slug, args.title, args.url))
        elif args.command == "demo":
            asyncio.run(_with_service(settings, seed_demo))
    except (AppError, msgspec.ValidationError) as exc:
        print(f"realtime: {exc}", file=sys.stderr)
        return 1
    return 0


def serve(settings: Settings, workers: int = 1, config_file: str | None = None) -> None:
    """Serve a database that `_migrated` has brought up to date; SIGHUP reads `config_file`
    (and the environment) again for the word lists: with several workers, uvicorn restarts them
    and each reads it."""
    if workers == 1:
        app = create_app(settings, reloader(config_file))
        uvicorn.Server(uvicorn_config(app, settings)).run()
        return
    os.environ[SETTINGS_ENV] = msgspec.json.encode(settings).decode()
    os.environ[CONFIG_ENV] = config_file or ""
    config = uvicorn_config(
        "realtime.web.app:app_from_environ", settings, factory=True, workers=workers
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def _migrated(settings: Settings, *, report: bool = False) -> bool:
    """Migrate once before serving (workers would all race to create a new database's tables),
    and say plainly why not when the database is newer than this realtime, or unreachable."""
    try:
        version, dialect = asyncio.run(_migrate(settings))
    except SchemaTooNew as exc:
        print(f"realtime: refusing to start: {exc}", file=sys.stderr)
        return False
    except Exception as exc:  # the driver's own errors: connection refused, bad password, …
        print(f"realtime: cannot open the database: {exc}", file=sys.stderr)
        return False
    if report:
        print(f"realtime migrate: the {dialect} database is at schema version {version}")
    return True


async def _migrate(settings: Settings) -> tuple[int, str]:
    store = await Store.from_settings(settings)
    try:
        return await store.backend.schema_version(), store.backend.dialect
    finally:
        await store.close()


async def _with_service(
    settings: Settings, action: Callable[[CommentService], Awaitable[None]]
) -> None:
    store = await Store.from_settings(settings)
    try:
        service = CommentService(settings, store, Hub(settings.reader_backlog_bytes))
        await action(service)
    finally:
        await store.close()


async def _put_article(settings: Settings, slug: str, title: str, url: str | None) -> None:
    async def put(service: CommentService) -> None:
        data = msgspec.convert({"title": title, "url": url}, ArticleIn)
        article, created = await service.put_article(slug, data)
        print(f"{'created' if created else 'updated'} {article.slug}: {article.title}")

    await _with_service(settings, put)
