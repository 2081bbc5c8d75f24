"""A server's reading of client WebSocket frames (RFC 6455 section 5), for `lean_ws.LeanSocket`.

`FrameReader.read(data)` takes the bytes as they come and calls `message(opcode, payload)` for
each whole data message (fragments joined), answers pings, notes pongs and hands the client's
close to `closed_by_client`. What breaks the protocol ends in `close(code, reason)`: 1002 for
framing (unmasked, reserved bits, unknown opcodes, bad control frames; every later byte is
dropped and the link is closed), 1009 for a message past `max_size` (its bytes are skipped, not
buffered, however long it claims to be; the client's close is still read after it).
"""

from __future__ import annotations

import asyncio

from starlette import status

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
DISCARD = 1 << 62  # after a framing error, every byte the client sends is dropped


class ClientError(Exception):
    """The client broke the protocol: close with this code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def unmask(data: bytes, mask: bytes) -> bytes:
    """A client frame's payload, unmasked (RFC 6455 5.3): one XOR over the whole of it."""
    size = len(data)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(size, "little")


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """An unmasked frame from the server (FIN set); control frames and close frames only."""
    return bytes((0x80 | opcode, len(payload))) + payload


def close_frame(code: int, reason: str) -> bytes:
    return frame(CLOSE, code.to_bytes(2, "big") + reason.encode()[:123])


PING_FRAME = frame(PING, b"rt")


class FrameReader:
    """The reading half of a server-side WebSocket; the class that uses it has these slots."""

    __slots__ = ("_buffer", "_skip", "_parts", "_opcode", "_pong")
    transport: asyncio.Transport | None
    close_sent: bool

    def __init__(self) -> None:
        self._buffer = b""  # an incomplete frame
        self._skip = 0  # bytes still to drop
        self._parts: list[bytes] | None = None  # a fragmented message so far
        self._opcode = TEXT  # and its opcode
        self._pong = True  # a pong came since the last ping

    @property
    def max_size(self) -> int:
        """The most bytes a client message may have."""
        raise NotImplementedError

    def message(self, opcode: int, payload: bytes) -> None:
        """A whole text or binary message."""
        raise NotImplementedError

    def closed_by_client(self, payload: bytes) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> int:
        raise NotImplementedError

    def close(self, code: int, reason: str) -> None:
        raise NotImplementedError

    def read(self, data: bytes) -> None:
        try:
            self._frames(data)
        except ClientError as error:
            self._buffer, self._parts = b"", None
            self.close(error.code, error.reason)
            if error.code == status.WS_1002_PROTOCOL_ERROR:
                self._skip = DISCARD  # the stream cannot be followed any further
                if self.transport is not None:
                    self.transport.close()

    def _frames(self, data: bytes) -> None:
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        buffer = self._buffer + data if self._buffer else data
        at, end = 0, len(buffer)
        while end - at >= 2 and self.transport is not None:
            head = self._header(buffer, at, end)
            if head is None:
                break
            opcode, fin, start, size = head
            if opcode < CLOSE and self._oversized(size):
                self.close(status.WS_1009_MESSAGE_TOO_BIG, "frame too large")
                self._parts = None
                at = start + 4 + size  # dropped, not buffered, however long it claims to be
                if at > end:
                    self._skip, at = at - end, end
                continue
            if start + 4 + size > end:
                break
            mask = buffer[start : start + 4]
            payload = unmask(buffer[start + 4 : start + 4 + size], mask)
            at = start + 4 + size
            self._frame(opcode, fin, payload)
        self._buffer = buffer[at:] if self.transport is not None else b""

    def _header(self, buffer: bytes, at: int, end: int) -> tuple[int, bool, int, int] | None:
        """(opcode, fin, offset of the mask, payload size), or None until the header is in."""
        first, second = buffer[at], buffer[at + 1]
        size, start = second & 0x7F, at + 2
        if size >= 126:
            width = 2 if size == 126 else 8
            if end - start < width:
                return None
            size, start = int.from_bytes(buffer[start : start + width], "big"), start + width
        opcode = first & 0x0F
        if not second & 0x80 or first & 0x70 or 3 <= opcode <= 7 or opcode > PONG:
            raise ClientError(status.WS_1002_PROTOCOL_ERROR, "bad frame")
        if opcode >= CLOSE and (size > 125 or not first & 0x80):
            raise ClientError(status.WS_1002_PROTOCOL_ERROR, "bad control frame")
        return opcode, bool(first & 0x80), start, size

    def _oversized(self, size: int) -> bool:
        """Past `ws_max_frame_bytes`, this frame with the message's fragments before it."""
        taken = sum(len(part) for part in self._parts) if self._parts else 0
        return taken + size > self.max_size

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        if opcode == CLOSE:
            self.closed_by_client(payload)
        elif opcode == PING:
            self.write(frame(PONG, payload))
        elif opcode == PONG:
            self._pong = True
        elif self.close_sent:
            return  # after our close frame: only the client's close still matters
        elif opcode == CONT:
            if self._parts is None:
                raise ClientError(status.WS_1002_PROTOCOL_ERROR, "continuation of nothing")
            self._parts.append(payload)
            if fin:
                parts, self._parts = self._parts, None
                self.message(self._opcode, b"".join(parts))
        elif self._parts is not None:
            raise ClientError(status.WS_1002_PROTOCOL_ERROR, "a new message inside a message")
        elif fin:
            self.message(opcode, payload)
        else:
            self._opcode, self._parts = opcode, [payload]
