"""The fan-out baseline: a bare `websockets` server that encodes each message once and calls
`websockets.broadcast`, speaking enough of realtime's protocol for the same load tester.

- WebSocket (`--port`): `/ws/articles/{slug}` sends `hello`, then every comment of that article.
- HTTP (`--http-port`, a minimal HTTP/1.1 keep-alive server, because the websockets server only
  answers GET): `GET /healthz`, `PUT /api/articles/{slug}`, `GET /api/articles/{slug}`,
  `POST /api/articles/{slug}/comments` (201 with the comment, as realtime answers), and
  `GET /metrics`: the same two stall instruments as realtime's (`realtime.web.stalls`: the loop's
  lag and the garbage collector's pauses), and the same log line for each stall over `--stall-ms`.

Nothing is stored and nothing is validated beyond decoding: this is the limit of fan-out in
Python with `websockets`, not a comment server. It runs on uvloop when installed, as uvicorn does.

    python bench/baseline_ws.py --port 9001 --http-port 9002
    realtime loadtest --url http://127.0.0.1:9002 --ws-url ws://127.0.0.1:9001 --admin-token x
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
from collections import defaultdict
from datetime import UTC, datetime

import msgspec
import prometheus_client
import websockets
from websockets.asyncio.server import ServerConnection, serve

from realtime.models import (
    Article,
    ArticleIn,
    Comment,
    CommentCreated,
    CommentEvent,
    CommentIn,
    Health,
    Hello,
)
from realtime.web.stalls import GcPauses, LoopLag

_encode = msgspec.json.Encoder().encode
_comment_in = msgspec.json.Decoder(CommentIn).decode
_article_in = msgspec.json.Decoder(ArticleIn).decode
REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found"}


class Baseline:
    def __init__(self) -> None:
        self.articles: dict[str, Article] = {}
        self.readers: defaultdict[str, set[ServerConnection]] = defaultdict(set)
        self.ids = itertools.count(1)
        self.registry = prometheus_client.CollectorRegistry()

    def watch_stalls(self, stall_ms: float) -> LoopLag:
        """realtime's two instruments, under the same metric names."""
        lag = prometheus_client.Histogram(
            "realtime_event_loop_lag_seconds", "loop lag", registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )  # fmt: skip
        pause = prometheus_client.Histogram(
            "realtime_gc_pause_seconds", "gc pauses", ["generation"], registry=self.registry,
            buckets=(0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )  # fmt: skip
        pauses = GcPauses(
            lambda generation, seconds: pause.labels(str(generation)).observe(seconds)
        )
        pauses.install()
        monitor = LoopLag(lag.observe, pauses, stall=stall_ms / 1000)
        monitor.start()
        return monitor

    # ---- WebSocket -------------------------------------------------------------------------

    async def reader(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request else ""
        slug = path.removeprefix("/ws/articles/").partition("?")[0]
        article = self.articles.get(slug)
        if article is None:
            await connection.close(4404, "unknown article")
            return
        hello = Hello(article=slug, count=article.count, last=None, watchers=0)
        await connection.send(_encode(hello).decode())
        self.readers[slug].add(connection)
        try:
            await connection.wait_closed()
        finally:
            self.readers[slug].discard(connection)

    # ---- HTTP ------------------------------------------------------------------------------

    def route(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/healthz":
            return 200, _encode(Health("ok"))
        if path == "/metrics":
            return 200, prometheus_client.generate_latest(self.registry)
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "articles"] or len(parts) < 3:
            return 404, b"{}"
        slug = parts[2]
        if method == "PUT" and len(parts) == 3:
            created = slug not in self.articles
            title = _article_in(body).title
            self.articles[slug] = Article(slug, title, None, now(), 0)
            return (201 if created else 200), _encode(self.articles[slug])
        article = self.articles.get(slug)
        if article is None:
            return 404, b"{}"
        if method == "GET" and len(parts) == 3:
            return 200, _encode(article)
        if method == "POST" and parts[3:] == ["comments"]:
            return 201, self.post(article, _comment_in(body))
        return 404, b"{}"

    def post(self, article: Article, data: CommentIn) -> bytes:
        article.count += 1
        comment = Comment(next(self.ids), article.slug, None, data.author, "0" * 32, data.body,
                          now(), None)  # fmt: skip
        frame = _encode(CommentEvent(comment=comment, count=article.count)).decode()
        websockets.broadcast(self.readers[article.slug], frame)  # encoded once, no backpressure
        return _encode(CommentCreated(comment, "baseline"))

    async def http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (line.partition(":") for line in lines if line)
                )
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    status, payload = self.route(method, target.partition("?")[0], body)
                except msgspec.MsgspecError:
                    status, payload = 400, b"{}"
                writer.write(
                    f"HTTP/1.1 {status} {REASONS[status]}\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def main(port: int, http_port: int, stall_ms: float) -> None:
    baseline = Baseline()
    baseline.watch_stalls(stall_ms)
    http = await asyncio.start_server(baseline.http, "127.0.0.1", http_port, backlog=4096)
    async with serve(
        baseline.reader,
        "127.0.0.1",
        port,
        compression=None,
        ping_interval=None,
        max_size=4096,
        backlog=4096,
    ):
        print(f"baseline: ws://127.0.0.1:{port} http://127.0.0.1:{http_port}", flush=True)
        async with http:
            await http.serve_forever()


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="WebSocket port")
    parser.add_argument("--http-port", type=int, required=True, help="HTTP port")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--stall-ms", type=float, default=100, help="log loop stalls this long")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    runner = asyncio.run
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            runner = uvloop.run
    runner(main(args.port, args.http_port, args.stall_ms))


if __name__ == "__main__":
    run()
