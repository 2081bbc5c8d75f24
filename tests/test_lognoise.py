"""Logs a client cannot flood: each bad input is one line at most, and repeats are counted, not
written: a flood of bad frames and bad requests leaves a few lines and a serving server."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from pathlib import Path
from sys import exc_info

import httpx

from realtime.web.lognoise import BURST, INTERVAL, QuietFilter
from tests.servers import UNIT, ProcessServer
from tests.wsclient import Reader

FRAMES = 10_000
REQUESTS = 1_000
AT_ONCE = 32
HANDSHAKE = (
    b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
# Readers are served below Starlette (lean_ws); /ws/admin goes through uvicorn's WebSocket
# protocol, whose errors are what lognoise tames: the flood goes half to each.
PATHS = (b"/ws/counts?articles=x", b"/ws/admin")
# A close frame with code 1007, with or without a reason.
CLOSE_1007 = re.compile(rb"\x88[\x02-\x7d]\x03\xef")
KINDS = 8  # the kinds of line this flood can cause


def masked_text_frame(payload: bytes) -> bytes:
    """A client's text frame (clients must mask), here with bytes that are not UTF-8."""
    mask = os.urandom(4)
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


async def bad_frame(port: int, path: bytes) -> bool:
    """Open a WebSocket, send one text frame that is not UTF-8; True if closed with 1007."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(HANDSHAKE % path)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(masked_text_frame(b"\xff\xfe\xfd"))
        received = await reader.read(4096)
        while received and not CLOSE_1007.search(received):
            more = await reader.read(4096)
            if not more:
                break
            received += more
        return CLOSE_1007.search(received) is not None
    finally:
        writer.close()


async def bad_frames(port: int) -> bool:
    """One bad frame on each kind of WebSocket (two frames)."""
    return all([await bad_frame(port, path) for path in PATHS])


async def bad_request(port: int) -> bool:
    """A request line no HTTP parser accepts; True if answered 400."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /\x00\x01 HTTP/9.9\r\n\x7f\r\n\r\n")
        return (await reader.read(4096)).startswith(b"HTTP/1.1 400")
    finally:
        writer.close()


async def flood(port: int, kind: object, times: int) -> int:
    """Run `times` of one bad input, AT_ONCE at a time; how many got the expected answer."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def one() -> bool:
        async with gate:
            return await kind(port)  # type: ignore[operator, no-any-return]

    async with asyncio.timeout(120 * UNIT):
        return sum(await asyncio.gather(*(one() for _ in range(times))))


async def test_a_flood_of_bad_input_leaves_few_log_lines(tmp_path: Path) -> None:
    """10,000 non-UTF-8 frames and 1,000 bad requests from one client: tens of lines, no
    traceback, each refused as it should be, and the server still serves."""
    log = tmp_path / "server.log"
    server = ProcessServer(tmp_path / "flood.sqlite", log=log).start()
    started = time.monotonic()
    try:
        before = len(log.read_text().splitlines())
        assert await flood(server.port, bad_frames, FRAMES // len(PATHS)) == FRAMES // len(PATHS)
        assert await flood(server.port, bad_request, REQUESTS) == REQUESTS
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            assert (await http.get("/healthz")).status_code == 200
        reader = await Reader.open(f"{server.ws_url}/ws/counts?articles=x")
        assert (await reader.next())["type"] == "counts"
        await reader.close()
    finally:
        server.stop()
    lines = log.read_text().splitlines()[before:]
    assert "Traceback" not in "\n".join(lines)
    # Per interval, each kind of line (accepted, opened, closed, bad frame, bad request, …) at
    # most BURST times and one count: the bound grows with time, not with the bad input.
    intervals = (time.monotonic() - started) / INTERVAL + 1
    bound = intervals * KINDS * (BURST + 1) + 12  # + starting and stopping
    assert len(lines) <= bound < (FRAMES + REQUESTS) / 10, "\n".join(lines[:100])
    assert any("Invalid UTF-8" in line for line in lines)
    assert any("more like this" in line for line in lines)


def test_repeats_are_summarised_once_per_interval() -> None:
    """Past the burst, records of one kind are held back and reported as one count."""
    now = [0.0]
    quiet = QuietFilter(interval=10.0, burst=3, clock=lambda: now[0])
    logger = logging.getLogger("tests.lognoise")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger.addFilter(quiet)
    logger.addHandler(Collect())
    logger.propagate = False
    try:
        for n in range(1000):
            logger.warning("bad input from %s", f"client {n}\ninjected line")
        logger.warning("another kind")
        now[0] = 10.5
        logger.warning("bad input from %s", "late client")
    finally:
        logger.removeFilter(quiet)
        logger.propagate = True
    assert seen[:3] == [f"bad input from client {n}\\ninjected line" for n in range(3)]
    assert seen[3] == "another kind"
    assert seen[4] == "… 997 more like this in the last 10 s: bad input from %s"
    assert seen[5] == "bad input from late client" and len(seen) == 6


def test_a_client_exception_becomes_one_line_but_a_server_bug_keeps_its_traceback() -> None:
    """A client's UnicodeDecodeError is folded into the message; a server error is not."""
    quiet = QuietFilter()
    logger = logging.getLogger("tests.lognoise")
    try:
        b"\xff".decode()
    except UnicodeDecodeError:
        client = logger.makeRecord(
            logger.name, logging.ERROR, "f", 1, "bad frame", None, exc_info()
        )
    try:
        raise KeyError("bug")
    except KeyError:
        server = logger.makeRecord(logger.name, logging.ERROR, "f", 1, "oops", None, exc_info())
    assert quiet.filter(client) and quiet.filter(server)
    assert client.exc_info is None and client.getMessage().startswith(
        "bad frame (UnicodeDecodeError:"
    )
    assert server.exc_info is not None and server.getMessage() == "oops"
