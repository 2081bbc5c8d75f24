"""uvicorn, set up for fan-out: one place that both `realtime serve` and the tests use.

`DirectWebSocketProtocol` is uvicorn's sans-I/O websockets protocol plus one ASGI extension,
`realtime.direct`: a `DirectSocket` that writes an already-framed message to the transport without
awaiting, and tells how many bytes the transport still holds unsent. That is what
`websockets.broadcast` does, and what the ASGI `send` cannot: each event is framed once and the
same bytes go to every reader, no reader's slow socket delays the loop, and a reader that is too
far behind still gets its 1013 close frame queued behind its backlog.

`DirectHttpProtocol` does the same for Server-Sent Events: uvicorn's httptools protocol plus the
`realtime.direct_stream` extension, a `DirectStream` that writes chunks of a response body that
the app has started through ASGI, and ends it itself (too slow, or shutting down).
`BudgetedHttpProtocol` on top of it refuses new connections near the open-file limit
(`descriptors.py`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from realtime.config import Settings
from realtime.errors import BadRequest
from realtime.web import lognoise
from realtime.web.descriptors import DESCRIPTORS, LINGER_SECONDS, REFUSAL, DescriptorBudget
from realtime.web.lean_ws import LEAN_WS, LeanEndpoints, LeanSocket, handshake
from realtime.web.raw_error import raw_error
from realtime.web.sse import DIRECT_STREAM
from realtime.web.ws import CLOSE_TIMEOUT, DIRECT_EXTENSION


class DirectSocket:
    """Non-blocking writes to one WebSocket connection's transport (on the fan-out hot path:
    one call per reader per publish, so it does as little as it can)."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, protocol: DirectWebSocketProtocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport

    def write(self, data: bytes) -> int:
        """Queue `data`; return the bytes the transport still holds unsent."""
        transport = self._transport
        if self._protocol.close_sent or transport.is_closing():
            return 0
        transport.write(data)
        size: int = transport.get_write_buffer_size()
        return size

    def close(self, code: int, reason: str) -> None:
        """Queue a close frame behind whatever is unsent; drop the link if it never drains."""
        protocol = self._protocol
        if protocol.close_sent or self._transport.is_closing():
            return
        protocol.conn.send_close(code, reason)
        self._transport.write(b"".join(protocol.conn.data_to_send()))
        protocol.close_sent = True
        # As uvicorn's own ASGI close does: the app's receive() now ends the connection.
        protocol.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        protocol.close_timer = protocol.loop.call_later(
            protocol.close_timeout, self._transport.close
        )


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    def shutdown(self) -> None:
        """On SIGTERM, close readers with 1001 (going away) so they reconnect elsewhere with
        ?after=; uvicorn's own protocol sends 1012."""
        if self.handshake_complete and not self.close_sent and not self.transport.is_closing():
            self.stop_keepalive()
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1001})
            self.conn.send_close(1001, "server shutting down")
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self.transport.close()
            return
        super().shutdown()

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.send" and self.close_sent and self.handshake_complete:
            # The connection has already failed (the client sent a bad frame) before the app
            # heard of it: for the app that is a disconnect, not a misuse of ASGI to log.
            raise ClientDisconnected()
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake request and response are never read again: ~4 KiB per reader.
            self.request = self.response = None  # type: ignore[assignment]

    def on_task_complete(self, task: asyncio.Task[None]) -> None:
        super().on_task_complete(task)
        # The app is done with its DirectSocket; the scope holding it is held by this protocol,
        # which the DirectSocket holds: let them go by reference counting, not the collector.
        scope: Any = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"].pop(DIRECT_EXTENSION, None)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The ASGI task starts on the next loop turn, so the scope can still be extended here.
        scope: Any = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][DIRECT_EXTENSION] = DirectSocket(self)


class DirectStream:
    """Non-blocking writes to one response's chunked body, once the app has sent the response
    start through ASGI and called `open` (on the fan-out hot path: the caller frames the chunks,
    so that readers at the same place share them)."""

    __slots__ = ("_transport", "_loop", "live", "ended")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self.live = False
        self.ended = False

    def open(self) -> None:
        """From now on the body is written here, past ASGI, until the connection ends."""
        self.live = True

    def write(self, chunks: bytes) -> int:
        """Queue framed chunks; return the bytes the transport still holds unsent."""
        transport = self._transport
        if self.ended or transport.is_closing():
            return 0
        transport.write(chunks)
        size: int = transport.get_write_buffer_size()
        return size

    def end(self) -> None:
        """Queue the last chunk behind whatever is unsent and close; drop the link if it never
        drains. The app's receive() then reports the disconnect."""
        if self.ended or self._transport.is_closing():
            return
        self.ended = True
        self._transport.write(b"0\r\n\r\n")
        self._transport.close()
        self._loop.call_later(CLOSE_TIMEOUT, self._transport.abort)


MALFORMED_HTTP = raw_error(BadRequest("the request is not valid HTTP/1.1"))


class DirectHttpProtocol(HttpToolsProtocol):
    stream: DirectStream | None = None

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        scope: Any = self.scope
        if "path" in scope:  # an HTTP request, not a WebSocket upgrade; its task starts next turn
            self.stream = DirectStream(self.transport, self.loop)
            scope["extensions"] = {DIRECT_STREAM: self.stream}

    def send_400_response(self, msg: str) -> None:
        """A request the parser cannot read (a Content-Length that is not a number, a broken
        request line) gets the API's error shape, not uvicorn's plain text."""
        self.transport.write(MALFORMED_HTTP)
        self.transport.close()

    def handle_websocket_upgrade(self) -> None:
        """`/ws/articles/…` and `/ws/counts` go to `lean_ws` (when the app offers it and readers
        are served by `DirectWebSocketProtocol`); any other upgrade to uvicorn and Starlette."""
        lean: LeanEndpoints | None = self.app_state.get(LEAN_WS)
        route = lean.route(self.url) if lean is not None else None
        direct = issubclass(self.ws_protocol_class, DirectWebSocketProtocol)  # type: ignore[arg-type]
        if lean is None or route is None or not direct:
            super().handle_websocket_upgrade()
        else:
            self._lean_upgrade(lean, route)
        # The parser and this protocol hold each other; nothing uses either past the upgrade.
        self.parser = None  # type: ignore[assignment]

    def _lean_upgrade(self, lean: LeanEndpoints, route: tuple[str, str, bytes]) -> None:
        self.connections.discard(self)
        headers = self.scope["headers"]
        response, upgraded = handshake(lean, self.scope["method"], self.url, headers)
        self.transport.write(response)
        if not upgraded:
            self.transport.close()
            return
        lean.keepalive.start(self.config.ws_ping_interval)
        socket = LeanSocket(lean, self.transport, self.connections)
        self.transport.set_protocol(socket)
        task = self.loop.create_task(socket.serve(*route, self.client, headers))
        for tasks in (self.tasks, lean.starting):  # uvicorn waits for its tasks at shutdown
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def shutdown(self) -> None:
        """On SIGTERM, end open event streams now (their readers reconnect elsewhere with
        Last-Event-ID) instead of waiting out the graceful-shutdown timeout."""
        if self.stream is not None and self.stream.live:
            self.stream.end()
            return
        super().shutdown()


class BudgetedHttpProtocol(DirectHttpProtocol):
    """The HTTP protocol `realtime serve` runs: new connections past the descriptor budget get a
    503 (`descriptors.py`) and are closed, before anything else."""

    _budget: DescriptorBudget | None = None  # set when this connection is refused
    _linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        budget: DescriptorBudget | None = self.app_state.get(DESCRIPTORS)
        if budget is None or budget.admit(len(self.connections)):
            return
        transport.write(REFUSAL)
        self._budget = budget
        if not budget.may_linger():
            transport.close()
            return
        # Closing with the request unread would reset the connection, and the client might lose
        # the 503: so the request is read first, for a second at most.
        budget.lingering += 1
        self._linger = self.loop.call_later(LINGER_SECONDS, transport.close)

    def data_received(self, data: bytes) -> None:
        if self._budget is not None:  # refused: drop the request, close
            self.transport.close()
            return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None and self._budget is not None:
            self._linger.cancel()
            self._budget.lingering -= 1
        super().connection_lost(exc)


def quiet_client_noise() -> None:
    """What clients get wrong is logged in one line at most, rate-limited (`lognoise`)."""
    lognoise.install()


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    quiet_client_noise()
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": BudgetedHttpProtocol,
        "ws": DirectWebSocketProtocol,
        "loop": settings.event_loop,
        "ws_max_size": settings.ws_max_frame_bytes,
        # A deflate context per reader costs ~50 KiB and one compression per event per reader.
        "ws_per_message_deflate": False,
        "log_level": settings.log_level,
        "log_config": None,
        # Behind a proxy every client would share its address (and its rate limit): believe
        # X-Forwarded-For from the configured proxies only.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
        "lifespan": "on",
        # SIGTERM: stop accepting, let in-flight requests (and their commits) finish, then stop.
        "timeout_graceful_shutdown": 10,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)
