"""PostgreSQL's LISTEN/NOTIFY as a pub/sub link between server processes (`hub = "postgres"`).

It is the link `realtime.live.postgres_hub` runs the shared hub logic on (the same `Link` shape
as Redis's): one connection that LISTENs, one that NOTIFYs, both outside the store's pool.

NOTIFY's payload is text of at most 8,000 bytes, and an envelope (one group commit's events,
comment bodies of up to 10,000 characters included) can be larger. Each message is therefore
sent as base64 text in parts of at most `PART_CHARS`, all of them in one transaction, so they
arrive together and in order, and put back together on receipt (parts carry the message's id,
their index and their number). Chunking keeps every event on the link; the alternative, sending
only ids and reading big events back from the database, would make every large comment wait
for the read-back and would need a read-back for edits too.

The channels are `realtime:{schema}:…`, so deployments in different schemas of one database stay
apart, as `/0` and `/1` do on Redis.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
from collections import OrderedDict
from typing import Any

import asyncpg

PART_CHARS = 7800  # under NOTIFY's 8,000-byte limit, with room for the part header
INCOMPLETE_MAX = 64  # messages whose parts are still arriving, kept at most
INBOX_MAX = 10_000  # received messages not yet taken; past it the link counts as lost


class LinkLost(ConnectionError):
    """The listening connection closed, or stopped answering."""


def split(data: bytes, message_id: str, size: int = PART_CHARS) -> list[str]:
    """`data` as NOTIFY payloads: `{id}:{index}:{count}:{base64 part}`."""
    text = base64.b64encode(data).decode()
    parts = [text[start : start + size] for start in range(0, len(text), size)] or [""]
    return [f"{message_id}:{n}:{len(parts)}:{part}" for n, part in enumerate(parts)]


class Joiner:
    """Puts split messages back together; a message whose parts never all come is dropped."""

    def __init__(self) -> None:
        self._partial: OrderedDict[str, list[str | None]] = OrderedDict()

    def add(self, payload: str) -> bytes | None:
        message_id, index, count, part = payload.split(":", 3)
        if count == "1":
            return base64.b64decode(part)
        parts = self._partial.setdefault(message_id, [None] * int(count))
        parts[int(index)] = part
        if any(piece is None for piece in parts):
            if len(self._partial) > INCOMPLETE_MAX:
                self._partial.popitem(last=False)
            return None
        del self._partial[message_id]
        return base64.b64decode("".join(piece or "" for piece in parts))

    def clear(self) -> None:
        self._partial.clear()


class PgLink:
    name = "PostgreSQL LISTEN/NOTIFY"
    errors: tuple[type[BaseException], ...] = (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,  # ConnectionError (LinkLost) and TimeoutError are OSErrors
    )

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self._url = url
        self._timeout = timeout
        self._listener: asyncpg.Connection | None = None
        self._sender: asyncpg.Connection | None = None
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._joiner = Joiner()
        self._token = secrets.token_hex(4)
        self._sent = 0
        # The hub's pump (events) and its beats (watchers) both publish; an asyncpg connection
        # takes one operation at a time, and two first publishes must not open two connections.
        self._sending = asyncio.Lock()

    async def channel_prefix(self) -> str:
        """`realtime:{schema}`, the schema being the one the store's tables are in."""
        conn = await self._connect()
        try:
            schema = await conn.fetchval("SELECT current_schema()")
        finally:
            await conn.close()
        return f"realtime:{schema}"[:48]  # channel names are identifiers: 63 bytes at most

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self._url, timeout=self._timeout)

    async def subscribe(self, channels: list[str]) -> list[tuple[str, bytes]]:
        """LISTEN returns once the server has it: confirmed, as Redis's SUBSCRIBE reply is."""
        await self.unsubscribe()
        self._inbox = asyncio.Queue()
        self._joiner.clear()
        conn = self._listener = await self._connect()
        for channel in channels:
            await conn.add_listener(channel, self._on_notify)
        return []

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        data = self._joiner.add(str(payload))
        if data is not None and self._inbox.qsize() < INBOX_MAX:
            self._inbox.put_nowait((channel, data))
        elif data is not None and self._listener is not None:
            # Falling this far behind is an outage too: drop the link, catch up from the database.
            self._listener.terminate()

    async def receive(self, timeout: float) -> tuple[str, bytes] | None:
        conn = self._listener
        if conn is None or conn.is_closed():
            raise LinkLost("the listening connection is closed")
        try:
            return await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            pass
        # Quiet for a while: make sure the connection still answers (a half-open TCP link
        # would otherwise go unnoticed until the kernel gives up on it).
        await conn.execute("SELECT 1", timeout=self._timeout)
        return None

    async def unsubscribe(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(*self.errors):
                await conn.close(timeout=self._timeout)
            conn.terminate()

    async def publish(self, channel: str, data: bytes) -> None:
        self._sent += 1
        parts = split(data, f"{self._token}{self._sent}")
        async with self._sending:
            await self._send(channel, parts)

    async def _send(self, channel: str, parts: list[str]) -> None:
        try:
            conn = self._sender
            if conn is None or conn.is_closed():
                conn = self._sender = await self._connect()
            if len(parts) == 1:
                await conn.execute("SELECT pg_notify($1, $2)", channel, parts[0])
                return
            async with conn.transaction():  # delivered together, at commit
                await conn.executemany(
                    "SELECT pg_notify($1, $2)", [(channel, part) for part in parts]
                )
        except self.errors:
            sender, self._sender = self._sender, None
            if sender is not None:
                sender.terminate()
            raise

    async def close(self) -> None:
        await self.unsubscribe()
        async with self._sending:
            sender, self._sender = self._sender, None
            if sender is not None and not sender.is_closed():
                with contextlib.suppress(*self.errors):
                    await sender.close(timeout=self._timeout)
