"""uvicorn, set up for fan-out: one place that both `realtime serve` and the tests use.

`DirectWebSocketProtocol` is uvicorn's sans-I/O websockets protocol plus one ASGI extension,
`realtime.direct`: a `DirectSocket` that writes an already-framed message to the transport without
awaiting, and tells how many bytes the transport still holds unsent. That is what
`websockets.broadcast` does, and what the ASGI `send` cannot: each event is framed once and the
same bytes go to every reader, no reader's slow socket delays the loop, and a reader that is too
far behind still gets its 1013 close frame queued behind its backlog.

`BudgetedHttpProtocol` keeps the process clear of its open-file limit (`ulimit -n`). At the limit
itself the accept loop can do nothing useful: uvloop (libuv) accepts each new connection and
drops it without a word, and asyncio's loop logs "socket.accept() out of system resource" up to
its backlog times a second while the connections wait unanswered. So a new connection is refused
a little earlier, while `DescriptorBudget.reserve` descriptors are still free: it gets a 503 in
the error shape and is closed. Connections already open (readers included) are served as before,
and one log line says why (once per episode: after a minute without refusals, a new one logs
again). The budget reaches the protocol through the ASGI lifespan state, so every worker process
has its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from realtime.config import Settings
from realtime.errors import Unavailable
from realtime.web.ws import DIRECT_EXTENSION

log = logging.getLogger("realtime.server")
# The key of the `DescriptorBudget` in the lifespan state that uvicorn hands every connection.
DESCRIPTORS = "realtime.descriptors"
RECOUNT_SECONDS = 1.0  # how stale the count of open descriptors may be, far from the limit
NEAR_RECOUNT_SECONDS = 0.05  # and near it
EPISODE_SECONDS = 60.0  # refusals this far apart are separate episodes, each logged once
LINGER_SECONDS = 1.0  # a refused client that sends nothing is closed after this
_ACCEPT_EXHAUSTED = "socket.accept() out of system resource"  # asyncio's message
_ACCEPT_RETRY = "BaseSelectorEventLoop._start_serving"  # and the retry it schedules


def _refusal() -> bytes:
    error = Unavailable("the server is at its open-file limit; try again later")
    body = msgspec.json.encode(error.body())
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after: {error.retry_after}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


REFUSAL = _refusal()


def open_descriptors() -> int | None:
    """How many descriptors the process has open (None where the OS does not say)."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(listing)) - 1  # less the one listdir itself held
        except OSError:
            continue
    return None


class DescriptorBudget:
    """Admits a new connection while the process has `reserve` descriptors to spare."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._others = 0  # descriptors that are not connections, as of the last count
        self._counted_at = float("-inf")
        self._last_refusal = float("-inf")
        self.limit = self.reserve = 0
        self.refused = 0
        self.lingering = 0  # refused connections held open (briefly) to read their request

    def may_linger(self) -> bool:
        """Refusals may hold at most half the reserve, so a flood of them cannot use it all."""
        return self.lingering < self.reserve // 2

    def admit(self, connections: int) -> bool:
        """`connections`: those open now, the new one included."""
        now = self._clock()
        near = self._others + connections >= self.limit - self.reserve
        if now - self._counted_at > (NEAR_RECOUNT_SECONDS if near else RECOUNT_SECONDS):
            self._recount(connections, now)
        in_use = self._others + connections
        if in_use < self.limit - self.reserve:
            return True
        self.refused += 1
        if now - self._last_refusal > EPISODE_SECONDS:
            self._log_exhausted(f"{in_use} descriptors in use")
        self._last_refusal = now
        return False

    def accept_failed(self) -> None:
        """The loop could not accept at all (asyncio): the same episode, logged the same way."""
        now = self._clock()
        if now - self._last_refusal > EPISODE_SECONDS:
            self._log_exhausted("accept() failed: too many open files")
        self._last_refusal = now

    def _recount(self, connections: int, now: float) -> None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.limit = soft if soft != resource.RLIM_INFINITY else 1 << 30
        self.reserve = max(16, min(256, self.limit // 10))
        counted = open_descriptors()
        self._others = counted - connections if counted is not None else 0
        self._counted_at = now

    def _log_exhausted(self, detail: str) -> None:
        log.warning(
            "open-file limit nearly reached (%s, ulimit -n %d): new connections get 503 until "
            "some close; the open ones are served as before. Raise the limit (LimitNOFILE=, "
            "ulimit -n) or lower max_readers",
            detail,
            self.limit,
        )

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fold asyncio's accept errors into this budget's one log line per episode.

        asyncio reports EMFILE once per connection waiting (up to the backlog, each time the
        listening socket wakes) and schedules as many retries, which all fail with a traceback
        if the server closes meanwhile: both are the episode already logged."""
        previous = loop.get_exception_handler()

        def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if context.get("message") == _ACCEPT_EXHAUSTED:
                self.accept_failed()
            elif _ACCEPT_RETRY in repr(context.get("handle")) and self._last_refusal > 0:
                log.debug("accept retry after the server closed: %s", context.get("exception"))
            elif previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handle)


class BudgetedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, refusing new connections (503) past the descriptor budget."""

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
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake request and response are never read again: ~4 KiB per reader.
            self.request = self.response = None  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The ASGI task starts on the next loop turn, so the scope can still be extended here.
        scope: Any = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][DIRECT_EXTENSION] = DirectSocket(self)


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
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
