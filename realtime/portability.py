"""`realtime backup`, `export`, `import` and `import-wxr`: the operator's copies of the data.

The SQL is in `realtime.store.archive`; this module is the command line around it: files and
standard streams, the JSON-lines format, and turning a WordPress export into records.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import sys
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import msgspec

from realtime.config import Settings
from realtime.errors import AppError
from realtime.formatting import render_stored
from realtime.live.hub import Hub
from realtime.models import CommenterIn, timestamp
from realtime.service import CommentService
from realtime.store import Store, is_postgres_url
from realtime.store.archive import (
    FORMAT_VERSION,
    ArticleRecord,
    CommentRecord,
    Header,
    ImportSummary,
    PendingRecord,
    Record,
    backup,
    export_records,
    import_records,
)
from realtime.store.files import restore
from realtime.store.postgres import without_password
from realtime.store.sqlite import sqlite_path
from realtime.wxr import WxrComment, WxrError, WxrPost, plain_text, read_wxr

COMMANDS = ("backup", "restore", "export", "import", "import-wxr")
EMAIL_NOTE = (
    "The export includes each commenter's e-mail address (private: never shown by the API, but "
    "needed to keep 'moderation = first' working after a move). Keep the file as private as the "
    "database, or leave the addresses out with --no-email."
)
# WordPress's comment_approved: "1" published, "0" held for moderation; "spam" and "trash" are
# what a moderator already refused, so they are not imported.
WXR_APPROVED = "1"
WXR_KEPT = (WXR_APPROVED, "0")
WXR_HELD_REASON = "held in WordPress"
WXR_COMMENT_TYPES = ("", "comment")  # pingbacks and trackbacks are not readers' comments
WXR_TIME = "%Y-%m-%d %H:%M:%S"

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Record).decode


class PortabilityError(Exception):
    """A file could not be used; the message says which and why."""


def add_commands(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the subcommands on `realtime`'s subparsers (`shared` adds --db and --config)."""
    parsers = [
        commands.add_parser(
            "backup",
            help="copy the database to FILE, safely while the server runs",
            description="SQLite's online backup: one consistent copy even while the server "
            "commits, written beside FILE, checked, then renamed into place.",
        ),
        commands.add_parser(
            "restore",
            help="put a backup in place of the database (no server may be running on it)",
            description="Refuses while any process has the database open (a server holds a "
            "lock on <db>.lock). Checks the backup (integrity, schema), then swaps it in "
            "atomically; the old database is kept as <db>.before-restore.",
        ),
        commands.add_parser(
            "export",
            help="write all articles and comments as JSON lines",
            description="One JSON record per line: a header, the articles, every comment (any "
            "status) with its id, parent, times and status, then the comments held for "
            "moderation. " + EMAIL_NOTE,
        ),
        commands.add_parser(
            "import",
            help="add the articles and comments of an export",
            description="All or nothing, in one transaction. Ids are kept, so they must be above "
            "every id the database has given out (import into a fresh database). Articles "
            "that exist already are kept. Imported comments have no author token: only the "
            "admin can edit or delete them.",
        ),
        commands.add_parser(
            "import-wxr",
            help="add the comments of a WordPress export (WXR)",
            description="Each post with comments becomes an article (matched to an existing one "
            "by its link, then by slug). Approved comments are published, held ones join the "
            "moderation queue; spam, trash, pingbacks and trackbacks are left out. Comments "
            "already imported are skipped, so importing the same file twice adds nothing. "
            "The e-mail addresses are kept (never shown) for 'moderation = first'.",
        ),
    ]
    backup_parser, restore_parser, export_parser, import_parser, wxr_parser = parsers
    backup_parser.add_argument("file", help="the copy to write (replaced if it exists)")
    restore_parser.add_argument("file", help="a backup written by `realtime backup`")
    export_parser.add_argument("file", nargs="?", default="-", help="the file to write, or -")
    export_parser.add_argument(
        "--no-email", action="store_true", help="leave the e-mail addresses out"
    )
    export_parser.add_argument(
        "--email",
        help="instead, everything stored about this address, as one JSON document",
    )
    import_parser.add_argument("file", help="an export written by `realtime export`, or -")
    wxr_parser.add_argument("file", help="the WordPress export (Tools → Export → All content)")
    for parser in parsers:
        shared(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one of `COMMANDS`; 0 on success, 1 with a message on stderr otherwise."""
    try:
        message = asyncio.run(_dispatch(args, settings))
    except (PortabilityError, WxrError, AppError, OSError, sqlite3.Error) as exc:
        print(f"realtime {args.command}: {exc}", file=sys.stderr)
        return 1
    print(message, file=sys.stderr)
    return 0


async def _dispatch(args: argparse.Namespace, settings: Settings) -> str:
    if args.command == "backup":
        comments = await backup(
            _existing(settings.db), args.file, busy_timeout_ms=settings.busy_timeout_ms
        )
        return f"backed up {_shown(settings.db)} to {args.file} ({comments} comments)"
    if args.command == "restore":
        if is_postgres_url(settings.db):
            raise PortabilityError(
                "restore a PostgreSQL database with pg_restore (docs/scaling.md)"
            )
        comments = restore(Path(args.file), sqlite_path(settings.db))
        return f"restored {args.file} into {settings.db} ({comments} comments)"
    if args.command == "export" and args.email:
        return await export_commenter(settings, args.email, args.file)
    if args.command == "export":
        return await export(settings, args.file, with_email=not args.no_email)
    if args.command == "import":
        records = list(read_records(args.file))
        async with _store(settings) as store:
            summary = await import_records(store, records, render_stored)
        return _summary(summary, args.file)
    posts = read_wxr(args.file)
    async with _store(settings) as store:
        # The service derives avatars exactly as for a comment posted through the API.
        service = CommentService(settings, store, Hub(settings.reader_backlog_bytes))
        records, left_out = wxr_records(posts, service.avatar)
        summary = await import_records(store, records, render_stored, renumber=True)
    return _summary(summary, args.file) + f"; left out {left_out} spam, trash, pingbacks, empty"


def _existing(db: str) -> str:
    """The database, if it is there: an export or a backup never creates one."""
    if not is_postgres_url(db) and not sqlite_path(db).is_file():
        raise PortabilityError(f"no database at {db}")
    return db


def _summary(summary: ImportSummary, source: str) -> str:
    text = f"imported {summary.comments} comments and {summary.pending} held ones from {source}"
    text += f" ({summary.articles_created} new articles"
    return text + (f", {summary.skipped} already there)" if summary.skipped else ")")


def _shown(db: str) -> str:
    """The database as a message may name it: a PostgreSQL URL without its password."""
    return without_password(db)[0] if is_postgres_url(db) else db


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    store = await Store.from_settings(settings)
    try:
        yield store
    finally:
        await store.close()


# ---- JSON lines ------------------------------------------------------------------------------


async def export_commenter(settings: Settings, email: str, file: str) -> str:
    """Everything stored about one address (a commenter's request for their data)."""
    address = msgspec.convert({"email": email}, CommenterIn).email
    _existing(settings.db)
    async with _store(settings) as store:
        service = CommentService(settings, store, Hub(settings.reader_backlog_bytes))
        data = await service.privacy.export(address)
    with _output(file) as out:
        out.write(msgspec.json.format(_encode(data)) + b"\n")
    where = "standard output" if file == "-" else file
    return f"exported {len(data.comments)} comments and {len(data.pending)} held ones to {where}"


async def export(settings: Settings, file: str, *, with_email: bool) -> str:
    _existing(settings.db)
    async with _store(settings) as store:
        with _output(file) as out:
            articles, comments = await _write(export_records(store), out, with_email)
    where = "standard output" if file == "-" else file
    return f"exported {articles} articles and {comments} comments to {where}"


async def _write(
    records: AsyncIterator[Record], out: IO[bytes], with_email: bool
) -> tuple[int, int]:
    """One JSON line per record; returns how many articles and comments were written."""
    articles = comments = 0
    async for record in records:
        if isinstance(record, CommentRecord):
            comments += 1
            if not with_email:
                record = msgspec.structs.replace(record, email=None)
        articles += isinstance(record, ArticleRecord)
        out.write(_encode(record) + b"\n")
    return articles, comments


@contextmanager
def _output(file: str) -> Iterator[IO[bytes]]:
    """Standard output, or a private (0600) file written beside `file` and renamed when done."""
    if file == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = Path(file + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, file)


def read_records(file: str) -> Iterator[Record]:
    """The records of an export, checked line by line; the first must be the header."""
    source = sys.stdin.buffer if file == "-" else Path(file).open("rb")
    with source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                record = _decode(line)
            except msgspec.MsgspecError as exc:
                raise PortabilityError(f"{file}, line {number}: {exc}") from None
            if (number == 1) != isinstance(record, Header):
                raise PortabilityError(f"{file}, line {number}: the header must be line 1 only")
            if isinstance(record, Header) and record.version != FORMAT_VERSION:
                raise PortabilityError(f"{file}: export format {record.version} is not known")
            yield record


# ---- WordPress -------------------------------------------------------------------------------


def wxr_records(posts: list[WxrPost], avatar: Callable[[str], str]) -> tuple[list[Record], int]:
    """Each post with readers' comments as an article, then its comments (WordPress's ids): the
    approved ones published, the held ones in the moderation queue. Spam, trash, pingbacks,
    trackbacks and comments with no text once the HTML is dropped are left out; their number
    is returned beside the records."""
    records: list[Record] = []
    left_out = 0
    for post in posts:
        slug = wxr_slug(post)
        kept = [
            _wxr_comment(comment, slug, avatar)
            for comment in post.comments
            if comment.type in WXR_COMMENT_TYPES and comment.approved in WXR_KEPT
        ]
        kept = [comment for comment in kept if comment.body]
        left_out += len(post.comments) - len(kept)
        if kept:
            created = wxr_time(post.date_gmt) or min(comment.created for comment in kept)
            title = post.title or slug
            records += [ArticleRecord(slug, title, post.link or None, created), *kept]
    return records, left_out


def _wxr_comment(
    comment: WxrComment, slug: str, avatar: Callable[[str], str]
) -> CommentRecord | PendingRecord:
    email = comment.email.strip().lower() or None
    author = comment.author.strip() or "Anonymous"
    created = wxr_time(comment.date_gmt) or wxr_time(comment.date)
    if created is None:
        raise WxrError(f"comment {comment.id} has no date this reader understands")
    body = plain_text(comment.content)
    # The two records share their first fields: id, article, parent, author, email, avatar,
    # body, created.
    shared = (comment.id, slug, comment.parent, author, email, avatar(email or author.lower()))
    if comment.approved == WXR_APPROVED:
        return CommentRecord(*shared, body, created, edited=None, status="published")
    return PendingRecord(*shared, body, created, reason=WXR_HELD_REASON)


def wxr_time(text: str) -> str | None:
    """WordPress's "2019-03-04 10:15:02" (UTC for the _gmt fields) in the API's format."""
    try:
        moment = datetime.strptime(text, WXR_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None  # empty, or WordPress's "0000-00-00 00:00:00" for a draft
    return timestamp(moment)


def wxr_slug(post: WxrPost) -> str:
    """The post's name, else the last part of its link, folded to a slug; else `wp-<id>`."""
    path = urlsplit(post.link).path.rstrip("/")
    for candidate in (post.name, path.rsplit("/", 1)[-1]):
        slug = slugify(unquote(candidate))
        if slug:
            return slug
    return f"wp-{post.id}"


def slugify(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:128].rstrip("-")
