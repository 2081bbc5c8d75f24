"""Lean Server-Sent Events readers for `realtime loadtest --transport sse`.

As lean as the WebSocket readers (which use `websockets` with nothing turned on): one TCP
connection per reader on asyncio's streams, the HTTP/1.1 response head read once, then the body
de-chunked and cut into events by hand: only the `data:` line of each event is decoded (msgspec),
`id:` lines and `: keepalive` comments are skipped. No HTTP client library sits in the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from urllib.parse import urlsplit

from realtime.loadtest.record import ProtocolError, Record, Tally, decode_event
from realtime.models import Hello, ServerEvent

READ_BYTES = 65536
HEAD_LIMIT = 16384
CLOSE_SECONDS = 2.0


class Dechunker:
    """HTTP/1.1 chunked transfer coding, undone incrementally: `feed` returns the body bytes."""

    def __init__(self) -> None:
        self._raw = bytearray()
        self._left = 0  # body bytes still to come in the current chunk
        self._skip = 0  # the CRLF after a chunk's body
        self.ended = False

    def feed(self, data: bytes) -> bytes:
        raw = self._raw
        raw += data
        out = bytearray()
        while raw and not self.ended:
            if self._skip:
                taken = min(self._skip, len(raw))
                del raw[:taken]
                self._skip -= taken
            elif self._left:
                taken = min(self._left, len(raw))
                out += raw[:taken]
                del raw[:taken]
                self._left -= taken
                self._skip = 0 if self._left else 2
            elif not self._size_line(raw):
                break
        return bytes(out)

    def _size_line(self, raw: bytearray) -> bool:
        end = raw.find(b"\r\n")
        if end < 0:
            if len(raw) > 64:
                raise ProtocolError("bad chunk size line")
            return False
        size = int(bytes(raw[:end]).split(b";")[0], 16)
        del raw[: end + 2]
        self._left = size
        self.ended = size == 0
        return True


def data_lines(block: bytes) -> list[bytes]:
    """The `data:` values of one event block (its lines, without the blank line ending it)."""
    return [line[6:] if line.startswith(b"data: ") else line[5:]
            for line in block.split(b"\n") if line.startswith(b"data:")]  # fmt: skip


class SseReader(Record):
    """One event stream, with the WebSocket reader's correctness record."""

    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.stream: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._body = Dechunker()
        self._events = b""
        self._pending: list[ServerEvent | None] = []  # what came with `hello`

    @property
    def connected(self) -> bool:
        return self.writer is not None

    async def open(self, url: str, timeout: float) -> float:
        """Connect, send the GET, read the head and `hello`; return the seconds it took."""
        start = time.perf_counter()
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        async with asyncio.timeout(timeout):
            self.stream, self.writer = await asyncio.open_connection(
                parts.hostname, port, ssl=ssl.create_default_context() if secure else None
            )
            request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            self.writer.write(f"{request}Accept: text/event-stream\r\n\r\n".encode())
            await self._head()
            while not self._pending:
                self._pending = await self._next_events()
        first = self._pending.pop(0)
        if not isinstance(first, Hello):
            raise ProtocolError(f"first message was {type(first).__name__}, not hello")
        return time.perf_counter() - start

    async def _head(self) -> None:
        assert self.stream is not None
        head = await self.stream.readuntil(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if len(head) > HEAD_LIMIT or b" 200 " not in status + b" ":
            raise ProtocolError(f"answered {status[:60].decode(errors='replace')}")
        if b"transfer-encoding: chunked" not in head.lower():
            raise ProtocolError("the stream is not chunked")

    async def _next_events(self) -> list[ServerEvent | None]:
        """Read once; return the events completed by what came (none when only a comment)."""
        assert self.stream is not None
        if self._body.ended:
            raise EOFError("the server ended the stream")
        data = await self.stream.read(READ_BYTES)
        if not data:
            raise EOFError("the server closed the connection")
        *blocks, self._events = (self._events + self._body.feed(data)).split(b"\n\n")
        return [decode_event(b"\n".join(lines)) for block in blocks if (lines := data_lines(block))]

    async def listen(self, tally: Tally) -> None:
        events, self._pending = self._pending, []
        try:
            while True:
                now = time.time()
                for event in events:
                    self.record(event, tally, now)
                events = await self._next_events()
        except (EOFError, OSError, ProtocolError, ValueError):
            if not self.finished:
                self.close_code = 0  # the stream ended (an SSE stream has no close codes)

    async def close(self) -> None:
        self.finished = True
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), CLOSE_SECONDS)

    async def abandon(self) -> None:
        if self.writer is not None:
            await self.close()
        self.writer = None
