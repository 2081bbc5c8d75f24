"""Lean WebSocket readers for `realtime loadtest --ws-client lean`: cheaper than the server.

The `websockets` client spends more CPU per received message than the server spends sending it
(its sans-I/O parser, a task and a queue per connection), so on one machine it measures the
client. This reader is one `asyncio.Protocol` per connection and nothing else: it writes the
upgrade request, checks the 101 and `Sec-WebSocket-Accept`, then cuts the server's frames out of
the bytes itself (servers never mask) and records each text message as it arrives, in
`data_received`, with no task per reader. It answers pings and closes as RFC 6455 asks (its own
frames masked), and decodes only what the correctness record needs (msgspec).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import time
from urllib.parse import urlsplit

from realtime.loadtest.record import ProtocolError, Record, Tally, decode_event
from realtime.models import Hello, ServerEvent

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HEAD_LIMIT = 16384
CLOSE_SECONDS = 2.0
LOOPBACK_SOURCES = 16
TEXT, CONT, BINARY, CLOSE, PING, PONG = 0x1, 0x0, 0x2, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame, as a client must send (RFC 6455 5.3), FIN set."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return head + mask + bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload))


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


class FrameParser:
    """Server frames out of a byte stream: `feed` returns the complete (opcode, payload) pairs
    of whole messages (fragments joined) and control frames."""

    __slots__ = ("_buffer", "_parts", "_opcode")

    def __init__(self) -> None:
        self._buffer = b""
        self._parts: list[bytes] = []
        self._opcode = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buffer = self._buffer + data if self._buffer else data
        out: list[tuple[int, bytes]] = []
        at, end = 0, len(buffer)
        while end - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            if second & 0x80:
                raise ProtocolError("the server masked a frame")
            size, start = second & 0x7F, at + 2
            if size == 126:
                if end - start < 2:
                    break
                size, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
            elif size == 127:
                if end - start < 8:
                    break
                size, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
            if end - start < size:
                break
            self._frame(first, buffer[start : start + size], out)
            at = start + size
        self._buffer = buffer[at:]
        return out

    def _frame(self, first: int, payload: bytes, out: list[tuple[int, bytes]]) -> None:
        opcode, fin = first & 0x0F, first & 0x80
        if opcode >= CLOSE:
            out.append((opcode, payload))
        elif fin and opcode != CONT and not self._parts:
            out.append((opcode, payload))
        else:
            if opcode != CONT:
                self._opcode = opcode
            self._parts.append(payload)
            if fin:
                out.append((self._opcode, b"".join(self._parts)))
                self._parts = []


class LeanProtocol(asyncio.Protocol):
    """One reader's connection: the handshake, then every message straight into the record."""

    def __init__(self, reader: LeanReader, request: bytes, key: bytes) -> None:
        self.reader = reader
        self.request = request
        self.accept = accept_key(key)
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.frames: FrameParser | None = None
        loop = asyncio.get_running_loop()
        self.hello: asyncio.Future[ServerEvent | None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        try:
            if self.frames is None:
                data = self._handshake(data)
            if data and self.frames is not None:
                for opcode, payload in self.frames.feed(data):
                    self._message(opcode, payload)
        except (ProtocolError, ValueError) as error:
            self._fail(error)

    def _handshake(self, data: bytes) -> bytes:
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > HEAD_LIMIT:
                raise ProtocolError("response head too long")
            return b""
        head, rest = self.head[:end], self.head[end + 4 :]
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ProtocolError(f"answered {status[:60].decode(errors='replace')}")
        if b"sec-websocket-accept: " + self.accept.lower() not in head.lower():
            raise ProtocolError("wrong Sec-WebSocket-Accept")
        self.head = b""
        self.frames = FrameParser()
        return rest

    def _message(self, opcode: int, payload: bytes) -> None:
        if opcode == TEXT:
            event = decode_event(payload)
            if not self.hello.done():
                self.hello.set_result(event)
            else:
                self.reader.received(event)
        elif opcode == PING:
            self.send(client_frame(PONG, payload))
        elif opcode == CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.reader.server_closed(code)
            self.send(client_frame(CLOSE, payload[:2]))
            if self.transport is not None:
                self.transport.close()
        elif opcode == BINARY:
            raise ProtocolError("the server sent a binary frame")

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)

    def _fail(self, error: Exception) -> None:
        if not self.hello.done():
            self.hello.set_exception(error)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.hello.done():
            self.hello.set_exception(ProtocolError("closed before hello"))
        self.reader.server_closed(1006)
        if not self.closed.done():
            self.closed.set_result(None)


class LeanReader(Record):
    """One lean WebSocket reader, with the same correctness record as the others.

    On loopback the readers of a process spread over the source addresses 127.0.0.1 to
    127.0.0.16: one source address has ~28,000 ephemeral ports towards one server port, and a
    capacity test may hold more readers than that."""

    made = 0

    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        LeanReader.made += 1
        self.number = LeanReader.made
        self.protocol: LeanProtocol | None = None
        self.tally: Tally | None = None
        self._early: list[ServerEvent | None] = []  # what came before `listen`

    @property
    def connected(self) -> bool:
        return self.protocol is not None

    async def open(self, url: str, timeout: float) -> float:
        """Connect, upgrade and read `hello`; return the seconds it took."""
        start = time.perf_counter()
        parts = urlsplit(url)
        if parts.scheme != "ws":
            raise ProtocolError("the lean client speaks ws:// only")
        key = base64.b64encode(os.urandom(16))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        spread = f"127.0.0.{1 + self.number % LOOPBACK_SOURCES}"
        source = (spread, 0) if host == "127.0.0.1" else None
        async with asyncio.timeout(timeout):
            _, protocol = await loop.create_connection(
                lambda: LeanProtocol(self, request, key), host, port, local_addr=source
            )
            self.protocol = protocol
            first = await protocol.hello
        if not isinstance(first, Hello):
            raise ProtocolError(f"first message was {type(first).__name__}, not hello")
        return time.perf_counter() - start

    def received(self, event: ServerEvent | None) -> None:
        if self.tally is None:
            self._early.append(event)
        else:
            self.record(event, self.tally, time.time())

    def server_closed(self, code: int) -> None:
        if not self.finished and self.close_code is None:
            self.close_code = code

    async def listen(self, tally: Tally) -> None:
        self.tally = tally
        now = time.time()
        for event in self._early:
            self.record(event, tally, now)
        self._early = []
        if self.protocol is not None:
            await self.protocol.closed

    async def close(self) -> None:
        self.finished = True
        protocol = self.protocol
        if protocol is None or protocol.transport is None:
            return
        protocol.send(client_frame(CLOSE, struct.pack("!H", 1000)))
        try:
            await asyncio.wait_for(asyncio.shield(protocol.closed), CLOSE_SECONDS)
        except TimeoutError:
            protocol.transport.abort()

    async def abandon(self) -> None:
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.abort()
        self.protocol = None
