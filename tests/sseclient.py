"""A small Server-Sent Events reader for tests: a real httpx stream, parsed as the spec says, under
timeouts (the twin of `tests.wsclient.Reader`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.servers import UNIT


class SseReader:
    def __init__(self, http: httpx.AsyncClient, response: httpx.Response) -> None:
        self.http = http
        self.response = response
        self.lines: AsyncIterator[str] = response.aiter_lines()
        self.events: list[dict[str, Any]] = []
        self.last_id: str | None = None  # the browser's "last event ID", as the spec sets it
        self.comments = 0  # comment lines (": keepalive")
        self.ended = False

    @classmethod
    async def open(cls, url: str, headers: dict[str, str] | None = None) -> SseReader:
        http = httpx.AsyncClient(timeout=httpx.Timeout(10 * UNIT, read=None))
        request = http.build_request("GET", url, headers=headers)
        response = await http.send(request, stream=True)
        return cls(http, response)

    async def _event(self) -> dict[str, Any] | None:
        """Read to the next dispatched event; None when the stream ends."""
        data: list[str] = []
        async for line in self.lines:
            if not line:
                if data:
                    event: dict[str, Any] = json.loads("\n".join(data))
                    return event
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                self.comments += 1
            elif field == "data":
                data.append(value)
            elif field == "id":
                self.last_id = value
        self.ended = True
        return None

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        event = await asyncio.wait_for(self._event(), timeout * UNIT)
        if event is None:
            raise EOFError("the stream ended")
        self.events.append(event)
        return event

    async def next_of(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next event of this type, skipping others (such as `watchers`)."""
        while True:
            event = await self.next(timeout)
            if event["type"] == kind:
                return event

    async def comment_ids(self, count: int, timeout: float = 10.0) -> list[int]:
        found: list[int] = []
        async with asyncio.timeout(timeout * UNIT):
            while len(found) < count:
                found.append((await self.next_of("comment", timeout))["comment"]["id"])
        return found

    async def ends(self, timeout: float = 5.0) -> bool:
        """Read on until the server ends the stream; True if it did within the timeout."""
        try:
            async with asyncio.timeout(timeout * UNIT):
                while await self._event() is not None:
                    pass
        except (httpx.RemoteProtocolError, httpx.ReadError):
            return True  # ended by dropping the link
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        await self.response.aclose()
        await self.http.aclose()
