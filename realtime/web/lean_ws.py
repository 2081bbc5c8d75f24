"""The two reader endpoints, `/ws/articles/{slug}` and `/ws/counts`, served below Starlette.

Why: a reader holds its connection for hours and a process holds tens of thousands of them.
Through uvicorn's WebSocket protocol and Starlette, each one keeps a sans-I/O `websockets`
protocol, an ASGI receive queue, a scope with its headers, a keep-alive timer and a task whose
coroutine chain runs through the middleware and routing: ~26 KiB and a few hundred objects that
the cyclic garbage collector walks on every full collection (the long pauses of issue 16). Here a
greeted reader is one `LeanSocket` (slots), its hub `Subscriber` and the transport: no task, no
queue, no timer, no reference cycle left behind when it goes.

The contract does not change (docs/API.md; tests/test_ws.py and test_ws_fuzz.py run on this
path): the handshake is `websockets`' own `ServerProtocol.accept`; origins as `ws.origin_ok`
(HTTP 403); the open-socket limits (1013); 4404 for an unknown article; 1008 for bad parameters,
binary frames and anything but `{"type":"ping"}`; 1009 past `ws_max_frame_bytes`; 1007 for text
that is not UTF-8; 1002 for broken framing; app pings answered in order with the events, protocol
pings with a pong; a ping every `ws_ping_interval` (one ring for all readers, `keepalive.py`)
and 1011 when it goes unanswered; 1013 for a reader too slow (the hub's bound), 1001 on shutdown.
The greeting is `resume.py`'s, as for the other transports: subscribe, hello, replay. The
client's frames are read by `ws_frames.FrameReader`.

`realtime.web.server.DirectHttpProtocol` hands an upgrade for these two paths here when the app
runs under it (the lifespan state holds `LeanEndpoints`); every other upgrade (`/ws/admin`, or
under another server) goes through uvicorn and Starlette (`ws.py`) as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote

import httptools
import msgspec
from starlette import status
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.server import ServerProtocol

from realtime.config import Settings
from realtime.errors import Invalid, Unavailable
from realtime.live.hub import Subscriber, text_frame
from realtime.models import CountsSnapshot
from realtime.service import CommentService, is_slug, slug_list
from realtime.topics import count_topic
from realtime.web.keepalive import KeepaliveRing
from realtime.web.resume import Join, number
from realtime.web.ws import PONG, WS_4404_UNKNOWN_ARTICLE, origin_ok, ping_decoder
from realtime.web.ws_frames import (
    BINARY,
    CLOSE,
    PING_FRAME,
    ClientError,
    FrameReader,
    close_frame,
    frame,
)

log = logging.getLogger("realtime.ws")
# websockets' ServerProtocol logs "connection open" at INFO on every accept: a line per reader.
_handshakes = logging.getLogger("realtime.ws.handshake")
_handshakes.setLevel(logging.WARNING)
# The key of `LeanEndpoints` in the lifespan state uvicorn hands every connection.
LEAN_WS = "realtime.lean_ws"
ARTICLES = "/ws/articles/"
COUNTS = "/ws/counts"
HOLD_BYTES = 64 * 1024  # client bytes held while a reader is greeted, before reading pauses
CLOSE_WAIT = 10.0  # after a close frame, how long the client has to answer before the link ends
_encode = msgspec.json.Encoder().encode


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    """The app behind `ProxyHeadersMiddleware` when only its rewrite of the client is wanted."""


class LeanEndpoints:
    """What one app's lean sockets share: the service, the settings, the keep-alive ring."""

    def __init__(self, svc: CommentService, settings: Settings) -> None:
        self.svc = svc
        self.settings = settings
        self.max_size = settings.ws_max_frame_bytes
        trusted = settings.trusted_proxies
        self._proxy = ProxyHeadersMiddleware(_nothing, trusted) if trusted else None
        self.keepalive = KeepaliveRing()
        self.starting: set[asyncio.Task[None]] = set()

    @staticmethod
    def route(url: bytes) -> tuple[str, str, bytes] | None:
        """("articles", slug, query) or ("counts", "", query) for a path served here."""
        parsed = httptools.parse_url(url)
        path = parsed.path.decode("ascii")
        path = unquote(path) if "%" in path else path
        query = parsed.query or b""
        if path == COUNTS:
            return "counts", "", query
        slug = path[len(ARTICLES) :]
        if path.startswith(ARTICLES) and slug and "/" not in slug:
            return "articles", slug, query
        return None

    async def client(self, address: tuple[str, int] | None, headers: list[Any]) -> str:
        """The client's address, from X-Forwarded-For when the peer is a trusted proxy."""
        if self._proxy is not None:
            scope: dict[str, Any] = {"type": "websocket", "client": address, "headers": headers}
            await self._proxy(scope, _nothing, _nothing)  # type: ignore[arg-type]
            address = scope["client"]
        return address[0] if address else "unknown"

    def stop(self) -> None:
        self.keepalive.stop()
        for task in list(self.starting):
            task.cancel()


def handshake(
    lean: LeanEndpoints, method: str, target: bytes, headers: Iterable[tuple[bytes, bytes]]
) -> tuple[bytes, bool]:
    """The handshake response as `websockets` answers it, and whether it upgrades (101)."""
    values = Headers((name.decode("latin-1"), value.decode("latin-1")) for name, value in headers)
    protocol = ServerProtocol(max_size=lean.max_size, logger=_handshakes)
    response = protocol.accept(Request(target.decode("latin-1"), values, method=method))
    allowed = lean.settings.allowed_origins
    if response.status_code == 101 and not origin_ok(
        values.get("origin"), values.get("host", ""), allowed
    ):
        response = protocol.reject(status.HTTP_403_FORBIDDEN, "")
    protocol.send_response(response)
    return b"".join(protocol.data_to_send()), response.status_code == 101


class LeanSocket(FrameReader, asyncio.Protocol):
    """One reader, from its handshake to its close. Client frames are parsed here as they come
    (once the greeting is sent); the hub writes the reader's frames through `write`."""

    __slots__ = (
        "_lean",
        "transport",
        "_connections",
        "_held",
        "_writable",
        "_subscriber",
        "_leave",
        "_client",
        "_ring",
        "close_sent",
    )

    def __init__(self, lean: LeanEndpoints, transport: asyncio.Transport, connections: Any) -> None:
        super().__init__()
        self._lean = lean
        self.transport: asyncio.Transport | None = transport
        self._connections: set[Any] = connections  # uvicorn's: SIGTERM reaches `shutdown`
        self._held: bytearray | None = bytearray()  # client bytes while greeting
        self._writable: asyncio.Future[None] | None = None
        self._subscriber: Subscriber | None = None
        self._leave: Callable[[], None] | None = None  # unsubscribes
        self._client: str | None = None  # holds one of the open-socket slots while set
        self._ring = -1
        self.close_sent = False
        connections.add(self)

    # ---- the life of a reader ----------------------------------------------------------------

    async def serve(self, kind: str, slug: str, query: bytes, client: Any, headers: Any) -> None:
        """Greet the reader (the limits, the article, its replay), then hand it to the hub."""
        svc = self._lean.svc
        try:
            address = await self._lean.client(client, headers)
            if self.transport is None:
                return
            if not svc.sockets.try_open(address):
                self.close(status.WS_1013_TRY_AGAIN_LATER, "too many connections")
                return
            self._client = address
            params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
            if kind == "articles":
                await self._article(slug, params)
            else:
                await self._counts(params)
        except Unavailable as exc:  # the database is down or restarting: come back later
            log.warning("closing a new reader: %s", exc.message)
            self.close(status.WS_1013_TRY_AGAIN_LATER, "database unavailable")
        except Exception:
            log.exception("greeting a reader failed")
            self.close(status.WS_1011_INTERNAL_ERROR, "internal error")

    async def _article(self, slug: str, params: dict[str, str]) -> None:
        svc = self._lean.svc
        article = await svc.store.get_article(slug) if is_slug(slug) else None
        if self.transport is None:
            return
        if article is None:
            self.close(WS_4404_UNKNOWN_ARTICLE, "unknown article")
            return
        try:
            after, since = number(params.get("after"), "after"), number(params.get("rev"), "rev")
        except ValueError as bad:
            self.close(status.WS_1008_POLICY_VIOLATION, f"{bad} must be an integer >= 0")
            return
        join = Join.open(svc, article, after, since)
        self._subscriber, self._leave = join.subscriber, join.close
        async with contextlib.aclosing(join.greeting()) as greeting:
            async for event, _ in greeting:
                if self.transport is None:
                    return
                self.transport.write(text_frame(event))
                if self._writable is not None:
                    await self._writable  # flow control, as an ASGI send would wait
        self._go_live()

    async def _counts(self, params: dict[str, str]) -> None:
        svc = self._lean.svc
        try:
            slugs = slug_list(params.get("articles", ""))
        except Invalid as error:
            self.close(status.WS_1008_POLICY_VIOLATION, error.message)
            return
        topics = [count_topic(slug) for slug in slugs]
        self._subscriber = subscriber = svc.hub.join(topics)
        self._leave = lambda: svc.hub.leave(subscriber, topics)
        counts = await svc.counts(slugs)
        if self.transport is not None:
            self.transport.write(text_frame(_encode(CountsSnapshot(counts=counts))))
            self._go_live()

    def _go_live(self) -> None:
        """Greeted: the hub writes from now on; the client's bytes held so far are read."""
        subscriber, transport = self._subscriber, self.transport
        if subscriber is None or transport is None or self.close_sent:
            return
        subscriber.on_overflow = self._too_slow
        subscriber.attach(self)
        self._ring = self._lean.keepalive.add(self)
        held, self._held = self._held, None
        if held is not None and len(held) > HOLD_BYTES:
            transport.resume_reading()
        if held:
            self.read(bytes(held))

    def _too_slow(self) -> None:
        self._lean.svc.hub.stats.slow_readers_closed += 1
        log.info("closing a slow reader: unsent backlog over the bound")
        self.close(status.WS_1013_TRY_AGAIN_LATER, "reader too slow")

    def _release(self) -> None:
        """Unsubscribe, give the socket slot back, leave the ring: once, whichever comes first."""
        leave, self._leave = self._leave, None
        if leave is not None:
            leave()
        client, self._client = self._client, None
        if client is not None:
            self._lean.svc.sockets.close(client)
        if self._ring >= 0:
            self._lean.keepalive.discard(self, self._ring)
            self._ring = -1
        self._subscriber = None

    # ---- the hub's sink ----------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        """Queue `data`; return the bytes the transport still holds unsent."""
        transport = self.transport
        if transport is None or self.close_sent:
            return 0
        transport.write(data)
        size: int = transport.get_write_buffer_size()
        return size

    def close(self, code: int, reason: str) -> None:
        """Queue a close frame behind whatever is unsent; the reader is done with from here."""
        transport = self.transport
        if transport is not None and not self.close_sent:
            self.close_sent = True
            transport.write(close_frame(code, reason))
            # The client answers with its close and this end closes; or, silent, after a while.
            loop = asyncio.get_running_loop()
            loop.call_later(CLOSE_WAIT, transport.close)
            # Not at once: the hub may be iterating over this reader's topic (a slow reader).
            loop.call_soon(self._release)
        else:
            self._release()
        held, self._held = self._held, None  # closed while greeting: the client's close matters
        if held:
            self.read(bytes(held))

    def keepalive(self) -> None:
        """From the ring, every `ws_ping_interval`: a ping; 1011 if the last one got no pong."""
        if not self._pong:
            self.close(status.WS_1011_INTERNAL_ERROR, "keepalive ping timeout")
            return
        self._pong = False
        self.write(PING_FRAME)

    def shutdown(self) -> None:
        """SIGTERM (uvicorn calls it): 1001, so that readers reconnect elsewhere with ?after=."""
        self.close(1001, "server shutting down")
        if self.transport is not None:
            self.transport.close()

    @property
    def max_size(self) -> int:
        return self._lean.max_size

    # ---- asyncio.Protocol --------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self.read(data)
            return
        held += data
        if len(held) > HOLD_BYTES and self.transport is not None:
            self.transport.pause_reading()

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._connections.discard(self)
        self._release()
        self.resume_writing()

    # ---- what the client sends (`FrameReader` cuts it into messages) ------------------------

    def message(self, opcode: int, payload: bytes) -> None:
        if opcode == BINARY:
            raise ClientError(status.WS_1008_POLICY_VIOLATION, "send JSON text frames")
        try:
            payload.decode()
        except UnicodeDecodeError:
            raise ClientError(status.WS_1007_INVALID_FRAME_PAYLOAD_DATA, "not UTF-8") from None
        try:
            ping_decoder.decode(payload)
        except msgspec.MsgspecError:
            raise ClientError(status.WS_1008_POLICY_VIOLATION, "unknown message") from None
        if self._subscriber is not None:
            self._subscriber.offer(PONG)

    def closed_by_client(self, payload: bytes) -> None:
        """The client's close: answer it (if this end has not closed yet) and end the TCP link."""
        if not self.close_sent and self.transport is not None:
            self.close_sent = True
            broken = len(payload) == 1  # a code is two bytes
            reply = close_frame(1002, "bad close frame") if broken else frame(CLOSE, payload[:2])
            self.transport.write(reply)
        self._release()
        if self.transport is not None:
            self.transport.close()
