"""What the coordinator and its reader processes share: messages, the comment marker, limits.

The coordinator starts each reader process with `python -m realtime.loadtest.readers` and talks to
it over the child's stdin and stdout: each message is a 4-byte big-endian length and a msgpack
body. The child's stderr stays free for errors.

Posters put their send time into the comment body (`marker`); readers read it back (`sent_at`),
so end-to-end latency needs no shared state, only one clock (`time.time()` on one machine).
"""

from __future__ import annotations

import asyncio
import resource
import struct
from typing import IO

import msgspec

from realtime.loadtest.histogram import HistogramData

_LENGTH = struct.Struct(">I")
MARKER = "[loadtest "


class Spec(msgspec.Struct, frozen=True, tag=True):
    """What one reader process runs: readers `first`..`first+count-1`, round-robin over `slugs`."""

    ws_url: str
    slugs: list[str]
    first: int
    count: int
    run_id: str
    t_base: float
    connect_timeout: float
    connect_concurrency: int
    bin_seconds: float
    transport: str = "websocket"  # or "sse": `url` is then the server's HTTP base
    url: str = ""
    ws_client: str = "websockets"  # or "lean" (`realtime.loadtest.lean`)


class Expect(msgspec.Struct, frozen=True, tag=True):
    """Posting is over: the ids acknowledged (201) per article; wait for them, then report."""

    ids: dict[str, list[int]]
    drain_timeout: float


class Ready(msgspec.Struct, frozen=True, tag=True):
    connected: int
    failed: int
    errors: dict[str, int]
    connect: HistogramData


class Progress(msgspec.Struct, frozen=True, tag=True):
    connected: int
    failed: int
    closed: int
    deliveries: int
    latency: HistogramData


class Result(msgspec.Struct, frozen=True, tag=True):
    deliveries: int
    expected: int
    last_delivery: float
    missing: int
    duplicated: int
    out_of_order: int
    extra: int
    readers_with_problems: int
    closed: dict[str, int]
    other_messages: int
    latency: HistogramData
    timeline: dict[int, int]
    cpu_seconds: float
    wall_seconds: float


ToReader = Spec | Expect
FromReader = Ready | Progress | Result

_encoder = msgspec.msgpack.Encoder()
_to_reader = msgspec.msgpack.Decoder(ToReader)
_from_reader = msgspec.msgpack.Decoder(FromReader)


def frame(message: ToReader | FromReader) -> bytes:
    body = _encoder.encode(message)
    return _LENGTH.pack(len(body)) + body


def write(stream: IO[bytes], message: FromReader) -> None:
    stream.write(frame(message))
    stream.flush()


async def _read_body(stream: asyncio.StreamReader) -> bytes | None:
    try:
        head = await stream.readexactly(_LENGTH.size)
        return await stream.readexactly(_LENGTH.unpack(head)[0])
    except asyncio.IncompleteReadError:
        return None  # the other side closed the pipe


async def read_to_reader(stream: asyncio.StreamReader) -> ToReader | None:
    body = await _read_body(stream)
    return None if body is None else _to_reader.decode(body)


async def read_from_reader(stream: asyncio.StreamReader) -> FromReader | None:
    body = await _read_body(stream)
    return None if body is None else _from_reader.decode(body)


def raise_file_limit() -> int:
    """Thousands of sockets need thousands of descriptors: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def marker(run_id: str, sent: float) -> str:
    return f"{MARKER}{run_id} {sent:.6f}]"


def sent_at(body: str, run_id: str) -> float | None:
    """The send time a poster of run `run_id` wrote into `body`, or None for anyone else's."""
    start = body.rfind(MARKER)
    if start < 0 or not body.endswith("]"):
        return None
    run, _, sent = body[start + len(MARKER) : -1].partition(" ")
    if run != run_id:
        return None
    try:
        return float(sent)
    except ValueError:
        return None
