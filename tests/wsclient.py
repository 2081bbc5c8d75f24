"""A small reader for tests: a real `websockets` client that collects events under timeouts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.servers import UNIT


class Reader:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Reader:
        # Unbounded: with websockets' default of 16, a reader that closes with more events
        # unread stops reading, never sees the server's close reply behind them and waits out
        # close_timeout (10 s). Slow-reader tests pass their own bound.
        kwargs.setdefault("max_queue", None)
        connection = await websockets.connect(url, open_timeout=10 * UNIT, **kwargs)
        return cls(connection)

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), timeout * UNIT)
        event: dict[str, Any] = json.loads(raw)
        self.events.append(event)
        return event

    async def next_of(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next event of this type, skipping others (such as `watchers`)."""
        while True:
            event = await self.next(timeout)
            if event["type"] == kind:
                return event

    async def comments(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Collect `count` comment events (other event types are kept in `events` only)."""
        found: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout * UNIT):
            while len(found) < count:
                event = await self.next(timeout)
                if event["type"] == "comment":
                    found.append(event)
        return found

    async def close_code(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes; return its close code."""
        try:
            async with asyncio.timeout(timeout * UNIT):
                while True:
                    await self.connection.recv()
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        return None

    async def close(self) -> None:
        await self.connection.close()
