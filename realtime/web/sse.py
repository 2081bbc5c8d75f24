"""Server-Sent Events: the live thread and the live counts where a WebSocket cannot get through.

`GET /sse/articles/{slug}` and `GET /sse/counts?articles=…` stream the very events of their
WebSocket twins, one JSON object per SSE `data:` line (no `event:` field: every event arrives as a
`message` whose JSON `type` tells what it is). Readers join through `realtime.web.resume`, the
same subscribe → hello → replay → drop-replayed order as the WebSocket.

The `id:` of every event that moves the reader (hello, comment, edit, delete) is its position
`C.R`: the newest comment id and the newest change number it has, so `Last-Event-ID: C.R` on a
reconnect resumes exactly as `?after=C&rev=R` (a plain `C` as `?after=C`). A comment event's id
starts with that comment's id. Where the greeting ends past its last event's position, an id-only
block (`id: C.R` and a blank line) moves the browser's last event id without an event.

Why not sse-starlette for the stream itself: its `EventSourceResponse` pulls each reader's events
from an async iterator in a task group of its own (stream, ping, disconnect-listener tasks), so a
reader costs three tasks and a queue, and a stalled reader's send waits (bounded only by time,
`send_timeout`) while the hub's bytes pile up. The hub writes WebSocket frames synchronously to
each reader's socket with no task and no queue (`realtime.web.server`); under that server an SSE
reader is the same kind of sink (`DirectStream`): one pre-encoded `data:` line per message for
every reader plus its own `id:` line, written without waiting, closed once its unsent bytes pass
`reader_backlog_bytes`. One keep-alive task serves all streams. Under another ASGI server (no
direct stream) sse-starlette serves the stream, as the WebSocket falls back to a sender task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import msgspec
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from realtime.errors import Forbidden, Invalid, NotFound, Unavailable
from realtime.live.hub import HubStats, Message, Overflowed, Subscriber, sse_data
from realtime.models import CountsSnapshot
from realtime.service import CommentService, is_slug, slug_list
from realtime.topics import count_topic
from realtime.web.resume import Position, joined, number
from realtime.web.ws import origin_allowed

# The ASGI extension through which `realtime.web.server` hands over a response's chunked body.
DIRECT_STREAM = "realtime.direct_stream"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
]
KEEPALIVE = b": keepalive\n\n"
# The portable path: a send to a reader that stalls this long ends its stream.
SEND_TIMEOUT = 10.0
GREETING_FLUSH_BYTES = 32 * 1024

_encode = msgspec.json.Encoder().encode


class Stream(Protocol):
    """A chunked response body written without waiting (`realtime.web.server.DirectStream`)."""

    ended: bool

    def open(self) -> None: ...
    def write(self, chunks: bytes) -> int: ...
    def end(self) -> None: ...


def chunk(data: bytes) -> bytes:
    """One chunk of HTTP/1.1's chunked transfer coding."""
    return b"%x\r\n%b\r\n" % (len(data), data)


KEEPALIVE_CHUNK = chunk(KEEPALIVE)


class Feed(Protocol):
    """What a stream sends: a greeting, then the subscriber's live events."""

    subscriber: Subscriber
    position: Position | None

    def greeting(self) -> AsyncIterator[tuple[bytes, Position | None]]: ...


def id_line(position: Position) -> bytes:
    return b"id: %d.%d\n" % (position.comment, position.rev)


def sse_event(payload: bytes, position: Position | None) -> bytes:
    """One complete event: its data line, its `id:` when it moves the reader, the blank line."""
    data = sse_data(payload)
    return data + id_line(position) + b"\n" if position is not None else data + b"\n"


class Cursor:
    """One reader's position, moved by each live comment, edit and deletion it is sent."""

    __slots__ = ("comment", "rev", "ids")

    def __init__(self, position: Position | None) -> None:
        self.ids = position is not None
        self.comment = position.comment if position else 0
        self.rev = position.rev if position else 0

    def encode(self, messages: list[Message]) -> bytes:
        """The shared data lines, each followed by this reader's own id line where it moved."""
        parts: list[bytes] = []
        for message in messages:
            parts.append(message.sse)
            if self.ids and message.comment_id is not None:
                self.comment = message.comment_id
                parts.append(b"id: %d.%d\n\n" % (self.comment, self.rev))
            elif self.ids and message.rev is not None:
                self.rev = max(self.rev, message.rev)
                parts.append(b"id: %d.%d\n\n" % (self.comment, self.rev))
            else:
                parts.append(b"\n")
        return b"".join(parts)


class SharedChunk:
    """The chunk last built for a reader, reused by the next reader at the same position given
    the same messages: the hub hands one message (or batch) to every reader of an article in
    turn, and they all stand at the same place, so the id lines are built once, not per reader.
    One per app (`Keepalive.shared`): an app's streams all live on its one event loop."""

    __slots__ = ("messages", "start", "end", "chunk")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.start: tuple[bool, int, int] = (False, -1, -1)
        self.end = (0, 0)
        self.chunk = b""


class DirectEvents:
    """An SSE reader as the hub's sink: its cursor's bytes go straight to its stream."""

    __slots__ = ("_stream", "_cursor", "_limit", "_stats", "_shared")

    def __init__(
        self, stream: Stream, cursor: Cursor, limit: int, stats: HubStats, shared: SharedChunk
    ) -> None:
        self._stream = stream
        self._cursor = cursor
        self._limit = limit
        self._stats = stats
        self._shared = shared

    def send(self, messages: list[Message]) -> int:
        cursor, shared = self._cursor, self._shared
        start = (cursor.ids, cursor.comment, cursor.rev)
        # Element by element, identity first: the same Message objects, as the hub passes them.
        if shared.start == start and shared.messages == messages:
            cursor.comment, cursor.rev = shared.end
            return self._stream.write(shared.chunk)
        data = chunk(cursor.encode(messages))
        shared.messages, shared.start, shared.chunk = messages, start, data
        shared.end = (cursor.comment, cursor.rev)
        return self._stream.write(data)

    def keepalive(self) -> None:
        if self._stream.write(KEEPALIVE_CHUNK) > self._limit:
            self.too_slow()

    def too_slow(self) -> None:
        """Unsent bytes past the bound: end the stream (the browser reconnects, resuming)."""
        if not self._stream.ended:
            self._stats.slow_readers_closed += 1
            self._stream.end()


class Keepalive:
    """One task for all of a process's direct streams: a comment line every `interval` seconds,
    so that proxies keep quiet streams open (and a stalled one is found even with no events)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.shared = SharedChunk()
        self._streams: set[DirectEvents] = set()
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def kept(self, events: DirectEvents) -> Iterator[None]:
        self._streams.add(events)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sse-keepalive")
        try:
            yield
        finally:
            self._streams.discard(events)

    async def _run(self) -> None:
        while self._streams:
            await asyncio.sleep(self.interval)
            for events in list(self._streams):
                events.keepalive()


class EventStream(Response):
    """The response: the feed's greeting, then its live events until the reader leaves or falls
    behind. It holds one of the reader slots (`SocketCounter`) and gives it back at the end."""

    def __init__(
        self, request: Request, feed: Callable[[], AbstractAsyncContextManager[Feed]]
    ) -> None:
        self.svc: CommentService = request.app.state.service
        self.feed = feed
        self.client = request.client.host if request.client else "unknown"
        self.keepalive = _keepalive(request)
        self.limit: int = request.app.state.settings.reader_backlog_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            stream: Stream | None = scope.get("extensions", {}).get(DIRECT_STREAM)
            if scope["method"] == "HEAD":
                await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
                await send({"type": "http.response.body", "body": b""})
            elif stream is None:
                await self._portable(scope, receive, send)
            else:
                await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
                async with self.feed() as feed:
                    await _greet(feed, send)
                    await self._direct(feed, stream, receive)
        finally:
            self.svc.sockets.close(self.client)

    async def _direct(self, feed: Feed, stream: Stream, receive: Receive) -> None:
        """From here the hub writes this reader's events; this task only waits for it to go."""
        cursor, stats = Cursor(feed.position), self.svc.hub.stats
        events = DirectEvents(stream, cursor, self.limit, stats, self.keepalive.shared)
        feed.subscriber.on_overflow = events.too_slow
        stream.open()
        with self.keepalive.kept(events):
            feed.subscriber.attach_events(events)
            while (await receive())["type"] != "http.disconnect":
                pass

    async def _portable(self, scope: Scope, receive: Receive, send: Send) -> None:
        """For ASGI servers without the direct stream: sse-starlette drains the backlog."""
        stats = self.svc.hub.stats

        async def events() -> AsyncIterator[bytes]:
            async with self.feed() as feed:
                sent: Position | None = None
                async for payload, sent in feed.greeting():
                    yield sse_event(payload, sent)
                if feed.position is not None and feed.position != sent:
                    yield id_line(feed.position) + b"\n"
                cursor = Cursor(feed.position)
                while True:
                    try:
                        batch = await feed.subscriber.drain()
                    except Overflowed:
                        stats.slow_readers_closed += 1
                        return
                    yield cursor.encode(batch)

        response = EventSourceResponse(
            events(),
            ping=self.keepalive.interval,
            ping_message_factory=lambda: ServerSentEvent(comment="keepalive"),
            send_timeout=SEND_TIMEOUT,
            sep="\n",
        )
        try:
            await response(scope, receive, send)
        except SendTimeoutError:
            stats.slow_readers_closed += 1


async def _greet(feed: Feed, send: Send) -> None:
    """Hello and the replay through ASGI, a few events per body chunk, then the position where
    the greeting left it past its last event's (see the module docstring)."""
    buffered: list[bytes] = []
    size = 0
    sent: Position | None = None
    async for payload, sent in feed.greeting():
        buffered.append(sse_event(payload, sent))
        size += len(buffered[-1])
        if size >= GREETING_FLUSH_BYTES:
            await _body(send, buffered)
            buffered, size = [], 0
    if feed.position is not None and feed.position != sent:
        buffered.append(id_line(feed.position) + b"\n")
    await _body(send, buffered)


async def _body(send: Send, parts: list[bytes]) -> None:
    await send({"type": "http.response.body", "body": b"".join(parts), "more_body": True})


def _keepalive(request: Request) -> Keepalive:
    """The app's one keep-alive ticker, made on first use."""
    state = request.app.state
    keepalive: Keepalive | None = getattr(state, "sse_keepalive", None)
    if keepalive is None:
        keepalive = state.sse_keepalive = Keepalive(state.settings.sse_keepalive_seconds)
    return keepalive


def _admit(request: Request) -> CommentService:
    if not origin_allowed(request):
        raise Forbidden("this origin may not read the stream")
    svc: CommentService = request.app.state.service
    return svc


def _take_slot(request: Request, svc: CommentService) -> None:
    """The WebSocket's limits, shared: per client address and in all (`EventStream` releases)."""
    if not svc.sockets.try_open(request.client.host if request.client else "unknown"):
        raise Unavailable("too many connections")


def _asked(request: Request) -> tuple[int | None, int | None]:
    """`after` and `rev` from the query, overridden by a reconnect's `Last-Event-ID: C[.R]`."""
    query = request.query_params
    try:
        after, since = number(query.get("after"), "after"), number(query.get("rev"), "rev")
    except ValueError as bad:
        raise Invalid(f"{bad} must be an integer >= 0", str(bad)) from None
    last_id = request.headers.get("last-event-id", "").strip()
    if not last_id:
        return after, since
    comment, _, rev = last_id.partition(".")
    try:
        after = number(comment, "Last-Event-ID")
        since = number(rev, "Last-Event-ID") if rev else since
    except ValueError:
        raise Invalid("Last-Event-ID must be C or C.R (integers)", "Last-Event-ID") from None
    return after, since


async def article_events(request: Request) -> Response:
    """`GET /sse/articles/{slug}?after=&rev=`: the thread's events, as `/ws/articles/{slug}`."""
    svc = _admit(request)
    slug = request.path_params["slug"]
    article = await svc.store.get_article(slug) if is_slug(slug) else None
    if article is None:
        raise NotFound("unknown article")
    after, since = _asked(request)
    _take_slot(request, svc)
    return EventStream(request, lambda: joined(svc, article, after, since))


class CountsFeed:
    """`/sse/counts`: the counts now, then each change."""

    def __init__(self, svc: CommentService, slugs: list[str], subscriber: Subscriber) -> None:
        self.position: Position | None = None  # counts events move no position: no ids
        self._svc = svc
        self._slugs = slugs
        self.subscriber = subscriber

    async def greeting(self) -> AsyncIterator[tuple[bytes, Position | None]]:
        counts = await self._svc.counts(self._slugs)
        yield _encode(CountsSnapshot(counts=counts)), None


@contextlib.asynccontextmanager
async def _counts_feed(svc: CommentService, slugs: list[str]) -> AsyncIterator[Feed]:
    async with svc.hub.subscribe(count_topic(slug) for slug in slugs) as subscriber:
        yield CountsFeed(svc, slugs, subscriber)


async def counts_events(request: Request) -> Response:
    """`GET /sse/counts?articles=a,b`: as `/ws/counts`."""
    svc = _admit(request)
    slugs = slug_list(request.query_params.get("articles", ""))
    _take_slot(request, svc)
    return EventStream(request, lambda: _counts_feed(svc, slugs))


routes = [
    Route("/sse/articles/{slug}", article_events, methods=["GET"]),
    Route("/sse/counts", counts_events, methods=["GET"]),
]
