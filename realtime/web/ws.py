"""WebSocket endpoints: one article's live thread, live counts for many articles, moderators' queue.

Under `realtime.web.server` (uvicorn with the direct extension) a connection has one task, its
receiver, which answers pings and enforces the client-message rules; the hub writes the reader's
frames itself, synchronously, so frames never interleave. Under another ASGI server a sender task
drains the reader's backlog instead. Pongs go through the subscriber in both cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Protocol

import msgspec
from starlette import status
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime.errors import AppError, Invalid, Unavailable
from realtime.live.hub import HubStats, Message, Overflowed, Sink, Subscriber
from realtime.models import Auth, CountsSnapshot, Ping, Pong, QueueSnapshot
from realtime.service import CommentService, is_slug, slug_list
from realtime.topics import ADMIN_TOPIC, count_topic
from realtime.web.resume import joined, number

log = logging.getLogger("realtime.ws")
WS_4404_UNKNOWN_ARTICLE = 4404
WS_4403_FORBIDDEN = 4403
AUTH_TIMEOUT = 10.0
# The ASGI extension through which `realtime.web.server` hands over a non-blocking socket.
DIRECT_EXTENSION = "realtime.direct"
CLOSE_TIMEOUT = 2.0

_encode = msgspec.json.Encoder().encode
ping_decoder = msgspec.json.Decoder(Ping)
_auth_decoder = msgspec.json.Decoder(Auth)
PONG = Message.of(_encode(Pong()))


class DirectClose(Sink, Protocol):
    def close(self, code: int, reason: str) -> None: ...


class ClientError(Exception):
    """The client broke the protocol; close with this code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def origin_allowed(connection: HTTPConnection) -> bool:
    """No cross-site WebSocket hijacking, nor cross-site reading of an SSE stream: a browser's
    Origin must be ours or on the list."""
    allowed: list[str] = connection.app.state.settings.allowed_origins
    headers = connection.headers
    return origin_ok(headers.get("origin"), headers.get("host", ""), allowed)


def origin_ok(origin: str | None, host: str, allowed: list[str]) -> bool:
    """`origin_allowed` on the bare values (for `lean_ws`, which has no Starlette connection)."""
    if origin is None:
        # Not a browser, or a same-origin EventSource (browsers always send Origin on WebSocket
        # upgrades and on cross-origin requests).
        return True
    if origin in (f"http://{host}", f"https://{host}"):
        return True
    return origin in allowed or "*" in allowed


@contextlib.asynccontextmanager
async def _admitted(websocket: WebSocket) -> AsyncIterator[CommentService | None]:
    """Origin check, accept, and the open-socket limits; yields None when the reader is refused."""
    svc: CommentService = websocket.app.state.service
    if not origin_allowed(websocket):
        await websocket.close(status.WS_1008_POLICY_VIOLATION)  # before accept: HTTP 403
        yield None
        return
    await websocket.accept()
    client = websocket.client.host if websocket.client else "unknown"
    if not svc.sockets.try_open(client):
        await websocket.close(status.WS_1013_TRY_AGAIN_LATER, "too many connections")
        yield None
        return
    try:
        yield svc
    except Unavailable as exc:  # the database is down or restarting: come back later
        log.warning("closing a new reader: %s", exc.message)
        await _close_quietly(websocket, status.WS_1013_TRY_AGAIN_LATER, "database unavailable")
    except WebSocketDisconnect:
        pass  # the client left, or broke the protocol, while we were sending: not our error
    finally:
        svc.sockets.close(client)


async def article_stream(websocket: WebSocket) -> None:
    async with _admitted(websocket) as svc:
        if svc is not None:
            await _article(websocket, svc)


async def _article(websocket: WebSocket, svc: CommentService) -> None:
    slug = websocket.path_params["slug"]
    article = await svc.store.get_article(slug) if is_slug(slug) else None
    if article is None:
        await websocket.close(WS_4404_UNKNOWN_ARTICLE, "unknown article")
        return
    query = websocket.query_params
    try:
        after, since = number(query.get("after"), "after"), number(query.get("rev"), "rev")
    except ValueError as bad:
        await websocket.close(status.WS_1008_POLICY_VIOLATION, f"{bad} must be an integer >= 0")
        return
    async with joined(svc, article, after, since) as join:
        async for event, _ in join.greeting():
            await websocket.send_text(event.decode())
        await _serve(websocket, join.subscriber)


async def counts_stream(websocket: WebSocket) -> None:
    async with _admitted(websocket) as svc:
        if svc is None:
            return
        try:
            slugs = slug_list(websocket.query_params.get("articles", ""))
        except Invalid as error:
            await websocket.close(status.WS_1008_POLICY_VIOLATION, error.message)
            return
        async with svc.hub.subscribe(count_topic(slug) for slug in slugs) as subscriber:
            counts = await svc.counts(slugs)
            await websocket.send_text(_encode(CountsSnapshot(counts=counts)).decode())
            await _serve(websocket, subscriber)


async def admin_stream(websocket: WebSocket) -> None:
    """Moderators: `{"type":"auth","token":…}` first, then the queue and its changes, live, until
    the token is revoked (4403)."""
    async with _admitted(websocket) as svc:
        if svc is None:
            return
        try:
            first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT)
            token = _auth_decoder.decode(first).token
        except (TimeoutError, msgspec.MsgspecError, KeyError, WebSocketDisconnect):
            await _close_quietly(websocket, status.WS_1008_POLICY_VIOLATION, "auth first")
            return
        try:
            actor = await svc.moderators.authenticate(token)
        except AppError as refused:
            await websocket.close(WS_4403_FORBIDDEN, refused.message[:120])
            return
        revoked = await svc.moderators.open_session(actor)
        try:
            async with svc.hub.subscribe([ADMIN_TOPIC]) as subscriber:
                queue = await svc.moderation.pending(None)
                await websocket.send_text(_encode(QueueSnapshot(pending=queue)).decode())
                await _until(revoked, _serve(websocket, subscriber))
        finally:
            svc.moderators.close_session(actor, revoked)
        if revoked.is_set():
            await _close_quietly(websocket, WS_4403_FORBIDDEN, "this moderator's token was revoked")


async def _first_of(*tasks: asyncio.Future[Any]) -> list[Any]:
    """Wait for the first task to end, cancel the others; each one's result or exception."""
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    return outcomes


async def _until(event: asyncio.Event, serving: Coroutine[Any, Any, None]) -> None:
    """Serve until the client leaves or `event` is set, whichever comes first."""
    outcomes = await _first_of(asyncio.ensure_future(serving), asyncio.ensure_future(event.wait()))
    if isinstance(outcomes[0], Exception):
        raise outcomes[0]  # a failure of the serving itself, not of the wait


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code, reason)


async def _serve(websocket: WebSocket, subscriber: Subscriber) -> None:
    """Deliver live events until the client leaves, breaks the rules, or falls behind."""
    direct: DirectClose | None = websocket.scope.get("extensions", {}).get(DIRECT_EXTENSION)
    stats: HubStats = websocket.app.state.service.hub.stats
    if direct is not None:
        await _serve_direct(websocket, subscriber, direct, stats)
    else:
        await _serve_portable(websocket, subscriber, stats)


async def _serve_direct(
    websocket: WebSocket, subscriber: Subscriber, direct: DirectClose, stats: HubStats
) -> None:
    """The hub writes this reader's frames itself; this task only listens to the client."""

    def too_slow() -> None:
        stats.slow_readers_closed += 1
        log.info("closing a slow reader: unsent backlog over the bound")
        direct.close(status.WS_1013_TRY_AGAIN_LATER, "reader too slow")  # queued, never waits

    subscriber.on_overflow = too_slow
    subscriber.attach(direct)
    try:
        await _receive_loop(websocket, subscriber)
    except ClientError as error:
        direct.close(error.code, error.reason)


async def _serve_portable(websocket: WebSocket, subscriber: Subscriber, stats: HubStats) -> None:
    """For ASGI servers without the direct extension: a sender task drains the backlog."""
    outcomes = await _first_of(
        asyncio.create_task(_send_loop(websocket, subscriber)),
        asyncio.create_task(_receive_loop(websocket, subscriber)),
    )
    code, reason = None, ""
    if isinstance(outcomes[0], Overflowed):
        stats.slow_readers_closed += 1
        code, reason = status.WS_1013_TRY_AGAIN_LATER, "reader too slow"
    elif isinstance(outcomes[1], ClientError):
        code, reason = outcomes[1].code, outcomes[1].reason
    if code is not None:
        # A stuck socket may never take the close frame; the server drops it after the timeout.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code, reason), CLOSE_TIMEOUT)


async def _send_loop(websocket: WebSocket, subscriber: Subscriber) -> None:
    """The portable path, for ASGI servers without the direct extension."""
    while True:
        for message in await subscriber.drain():
            await websocket.send_text(message.text)


async def _receive_loop(websocket: WebSocket, subscriber: Subscriber) -> None:
    limit: int = websocket.app.state.settings.ws_max_frame_bytes
    while True:
        try:
            message = await websocket.receive()
        except WebSocketDisconnect:
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            raise ClientError(status.WS_1008_POLICY_VIOLATION, "send JSON text frames")
        if len(text) > limit or len(text.encode()) > limit:
            raise ClientError(status.WS_1009_MESSAGE_TOO_BIG, "frame too large")
        try:
            ping_decoder.decode(text)
        except msgspec.MsgspecError:
            raise ClientError(status.WS_1008_POLICY_VIOLATION, "unknown message") from None
        subscriber.offer(PONG)


routes = [
    WebSocketRoute("/ws/articles/{slug}", article_stream),
    WebSocketRoute("/ws/counts", counts_stream),
    WebSocketRoute("/ws/admin", admin_stream),
]
