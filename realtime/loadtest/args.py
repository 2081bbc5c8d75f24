"""The command line of `realtime loadtest`, checked into one `Options` Struct."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from typing import Literal, NoReturn
from urllib.parse import urlsplit

import msgspec

from realtime.models import SLUG_PATTERN

DESCRIPTION = """\
Load-test a running realtime server: readers hold WebSockets (or, with --transport sse, Server-Sent
Events streams) open on the articles while posters post comments over HTTP at a fixed total rate;
every delivery is timed and checked (missing, duplicated, out-of-order). Exits 0 when every check
passes, 1 when one fails, 2 on bad arguments and 3 when the run cannot start (server unreachable,
article missing or refused, no reader could connect).
"""

EPILOG = """\
articles: the run uses PREFIX-1 .. PREFIX-N (--article-prefix, --articles). With an admin token
(--admin-token or REALTIME_ADMIN_TOKEN) it creates them (PUT, harmless if they exist); without
one they must exist already (`realtime article put loadtest-1 --title "Load test"`). Only this
run's comments are counted, so articles can be reused between runs.

server: start it with REALTIME_RATE_LIMIT=off, or its per-client limits answer 429 to the posters.
"""

_slug_prefix = re.compile(SLUG_PATTERN.replace("{0,127}", "{0,100}"))


class UsageError(Exception):
    """A bad argument; the message is one line."""


class Options(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    ws_url: str
    transport: Literal["websocket", "sse"] = "websocket"
    ws_client: Literal["websockets", "lean"] = "websockets"
    readers: int = 1000
    articles: int = 1
    posters: int = 10
    rate: float = 50.0
    duration: float = 30.0
    comments: int | None = None
    body_bytes: int = 0
    procs: int = 1
    admin_token: str | None = None
    article_prefix: str = "loadtest"
    connect_timeout: float = 30.0
    connect_concurrency: int = 100
    drain_timeout: float = 10.0
    json: str | None = None
    report: str | None = None
    progress: bool = True

    @property
    def slugs(self) -> list[str]:
        return [f"{self.article_prefix}-{n}" for n in range(1, self.articles + 1)]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="realtime loadtest",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8000")
    add("--ws-url", help="base URL of the WebSockets if elsewhere (default: --url as ws://)")
    add("--transport", choices=["websocket", "sse"], default="websocket",
        help="how readers listen: WebSockets (default) or Server-Sent Events")  # fmt: skip
    add("--ws-client", choices=["websockets", "lean"], default="websockets",
        help="WebSocket readers on the `websockets` library (default) or lean asyncio protocols "
             "that parse frames themselves (less client CPU per delivery)")  # fmt: skip
    add("--readers", type=int, default=1000, help="readers in all (default 1000)")
    add("--articles", type=int, default=1, help="articles the readers and posts spread over")
    add("--posters", type=int, default=10, help="concurrent HTTP posters (default 10)")
    add("--rate", type=float, default=50.0, help="comments/s in all; 0 = as fast as possible")
    add("--duration", type=float, default=30.0, help="seconds of posting (default 30)")
    add("--comments", type=int, help="stop posting after this many comments")
    add("--body-bytes", type=int, default=0,
        help="pad each comment body to this many characters (default: no padding)")  # fmt: skip
    add("--procs", type=int, default=1, help="processes the readers are spread over (default 1)")
    add("--admin-token", default=os.environ.get("REALTIME_ADMIN_TOKEN") or None,
        help="creates the articles (default: $REALTIME_ADMIN_TOKEN)")  # fmt: skip
    add("--article-prefix", default="loadtest", help="articles are PREFIX-1..PREFIX-N")
    add("--connect-timeout", type=float, default=30.0, help="seconds for one reader's handshake")
    add("--connect-concurrency", type=int, default=100, help="handshakes at once per process")
    add("--drain-timeout", type=float, default=10.0,
        help="seconds to wait after the last post; later deliveries count as missing")  # fmt: skip
    add("--json", metavar="FILE", help="write the report as JSON ('-' for stdout)")
    add("--report", metavar="FILE", help="write a self-contained HTML report")
    add("--no-progress", dest="progress", action="store_false", help="no live display")
    return parser


def parse(argv: Sequence[str]) -> Options:
    values = vars(build_parser().parse_args(list(argv)))
    values["url"] = _base_url(values["url"], ("http", "https"), "--url")
    ws_url = values["ws_url"] or _ws_of(values["url"])
    values["ws_url"] = _base_url(ws_url, ("ws", "wss"), "--ws-url")
    options = Options(**values)
    _check(options)
    return options


def _base_url(url: str, schemes: tuple[str, ...], flag: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise UsageError(f"{flag} must be a URL like {schemes[0]}://127.0.0.1:8000, not {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise UsageError(f"{flag} has a bad port: {url!r}") from None
    return url.rstrip("/")


def _ws_of(url: str) -> str:
    return "ws" + url[len("http") :]


def _check(options: Options) -> None:
    rules = [
        (options.readers >= 1, "--readers must be at least 1"),
        (options.articles >= 1, "--articles must be at least 1"),
        (options.posters >= 1, "--posters must be at least 1"),
        (options.rate >= 0, "--rate must be 0 (as fast as possible) or more"),
        (options.duration > 0, "--duration must be more than 0 seconds"),
        (options.comments is None or options.comments >= 1, "--comments must be at least 1"),
        (options.body_bytes >= 0, "--body-bytes must not be negative"),
        (1 <= options.procs <= 64, "--procs must be between 1 and 64"),
        (options.procs <= options.readers, "--procs must not exceed --readers"),
        (options.connect_timeout > 0, "--connect-timeout must be more than 0"),
        (options.connect_concurrency >= 1, "--connect-concurrency must be at least 1"),
        (options.drain_timeout >= 0, "--drain-timeout must not be negative"),
        (_slug_prefix.fullmatch(options.article_prefix) is not None,
         "--article-prefix must be a slug: a-z, 0-9 and '-', starting with a letter or digit"),
    ]  # fmt: skip
    for ok, message in rules:
        if not ok:
            raise UsageError(message)
