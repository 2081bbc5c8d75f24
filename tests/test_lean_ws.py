"""The lean reader path (`realtime.web.lean_ws`): which upgrades take it, and what only it does
itself (keep-alive pings, framing errors, split frames, readers leaving mid-greeting, proxies).
tests/test_ws.py and test_ws_fuzz.py hold it to the rest of the contract."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from pathlib import Path
from typing import Any

import httpx
import websockets

from realtime.web.lean_ws import LEAN_WS, LeanEndpoints
from tests.conftest import ADMIN, post_comment
from tests.servers import UNIT, ThreadServer, make_settings, wait_for
from tests.wsclient import Reader

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def lean_of(server: ThreadServer) -> LeanEndpoints:
    lean: LeanEndpoints = server.server.lifespan.state[LEAN_WS]
    return lean


def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame (masked, as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    head += bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
    return head + mask + bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload))


class RawClient:
    """A WebSocket client by hand: the handshake, then frames exactly as a test writes them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server: ThreadServer, path: str, headers: str = "") -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade"
            f"\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        async with asyncio.timeout(timeout * UNIT):
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return first & 0x0F, await self.reader.readexactly(size)

    async def close_code(self, timeout: float = 5.0) -> int:
        """Frames until the server's close frame; its code."""
        while True:
            opcode, payload = await self.frame(timeout)
            if opcode == 0x8:
                code: int = struct.unpack("!H", payload[:2])[0]
                return code

    def close(self) -> None:
        self.writer.close()


async def test_reader_upgrades_take_the_lean_path(server: ThreadServer, article: str) -> None:
    """Thread and counts readers are served lean (in the keep-alive ring); /ws/admin is not."""
    lean = lean_of(server)
    thread = await Reader.open(f"{server.ws_url}/ws/articles/{article}")
    counts = await Reader.open(f"{server.ws_url}/ws/counts?articles={article}")
    assert (await thread.next())["type"] == "hello"
    assert (await counts.next())["type"] == "counts"
    await wait_for(lambda: len(lean.keepalive) == 2)
    admin = await Reader.open(f"{server.ws_url}/ws/admin")
    await admin.connection.send(f'{{"type":"auth","token":"{ADMIN}"}}')
    assert (await admin.next())["type"] == "queue"
    assert len(lean.keepalive) == 2
    for reader in (thread, counts, admin):
        await reader.close()
    await wait_for(lambda: len(lean.keepalive) == 0 and server.service.sockets.open == 0)


async def test_unanswered_pings_close_1011_and_answered_ones_keep_the_reader(
    tmp_path: Path,
) -> None:
    """A reader that never answers the keep-alive ping is closed with 1011; one that does stays."""
    settings = make_settings(tmp_path / "db.sqlite", admin_token=ADMIN, rate_limit="off")
    server = ThreadServer(settings, ws_ping_interval=0.3 * UNIT).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
            await http.put("/api/articles/pinged", json={"title": "P"}, headers=AUTH)
            answering = await Reader.open(f"{server.ws_url}/ws/articles/pinged")
            await answering.next()
            silent = await RawClient.open(server, "/ws/articles/pinged")
            opcode, _ = await silent.frame()  # hello
            assert opcode == 0x1
            pings = 0
            while True:
                opcode, payload = await silent.frame()
                if opcode == 0x8:
                    assert struct.unpack("!H", payload[:2])[0] == 1011
                    break
                pings += opcode == 0x9
            assert pings >= 1
            silent.close()
            await asyncio.sleep(1.0 * UNIT)  # three more intervals
            posted = (await post_comment(http, "pinged", body="still here")).json()["comment"]
            assert (await answering.next_of("comment"))["comment"]["id"] == posted["id"]
            await answering.close()
    finally:
        server.stop()


async def test_unmasked_frame_closes_1002(server: ThreadServer, article: str) -> None:
    """A client frame without a mask breaks RFC 6455: close 1002, the reader's slot is freed."""
    client = await RawClient.open(server, f"/ws/articles/{article}")
    assert (await client.frame())[0] == 0x1
    client.writer.write(b"\x81\x0f" + b'{"type":"ping"}')  # unmasked
    assert await client.close_code() == 1002
    client.close()
    await wait_for(lambda: server.service.sockets.open == 0)


async def test_frames_split_byte_by_byte_still_make_a_ping(
    server: ThreadServer, article: str
) -> None:
    """A ping sent one byte per write, in two fragments, is one message: answered with a pong."""
    client = await RawClient.open(server, f"/ws/articles/{article}")
    assert (await client.frame())[0] == 0x1
    data = masked(0x1, b'{"type":', fin=False) + masked(0x0, b'"ping"}')
    for byte in data:
        client.writer.write(bytes([byte]))
        await client.writer.drain()
    while True:
        opcode, payload = await client.frame()
        if opcode == 0x1 and b'"pong"' in payload:
            break
    client.close()


async def test_reader_leaving_during_its_replay_leaves_nothing_behind(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """A reader gone while its long replay is sent: unsubscribed, its slot given back."""
    for n in range(60):
        await post_comment(client, article, body=f"replayed {n} " + "x" * 2000)
    for _ in range(5):
        raw = await RawClient.open(server, f"/ws/articles/{article}?after=0")
        raw.writer.transport.abort()
    await wait_for(
        lambda: (
            server.service.sockets.open == 0
            and server.service.hub.subscribers(f"article:{article}") == 0
        )
    )


async def test_trusted_proxy_forwarded_address_counts_for_the_per_client_cap(
    start_server: Any,
) -> None:
    """Behind a trusted proxy, the cap counts X-Forwarded-For addresses, not the proxy's."""
    server = start_server(trusted_proxies=["127.0.0.1"], rate_limit="on", max_readers_per_client=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        await http.put("/api/articles/proxied", json={"title": "P"}, headers=AUTH)
    url = f"{server.ws_url}/ws/articles/proxied"

    async def reader(address: str) -> Reader:
        connection = await websockets.connect(
            url, additional_headers={"X-Forwarded-For": address}, open_timeout=10 * UNIT
        )
        return Reader(connection)

    first, second = await reader("203.0.113.1"), await reader("203.0.113.2")
    assert (await first.next())["type"] == "hello"
    assert (await second.next())["type"] == "hello"
    third = await reader("203.0.113.1")
    assert await third.close_code() == 1013
    await first.close()
    await second.close()


async def test_lean_path_on_asyncios_own_loop(start_server: Any) -> None:
    """With event_loop = "asyncio" (no uvloop) the lean path serves the same: hello, a pong, a
    comment, the close."""
    server = start_server(event_loop="asyncio")
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        await http.put("/api/articles/plain", json={"title": "P"}, headers=AUTH)
        reader = await Reader.open(f"{server.ws_url}/ws/articles/plain")
        assert (await reader.next())["type"] == "hello"
        await wait_for(lambda: len(lean_of(server).keepalive) == 1)
        await reader.connection.send('{"type":"ping"}')
        assert await reader.next_of("pong") == {"type": "pong"}
        posted = (await post_comment(http, "plain")).json()["comment"]
        assert (await reader.next_of("comment"))["comment"]["id"] == posted["id"]
        await reader.close()
    await wait_for(lambda: server.service.sockets.open == 0)
