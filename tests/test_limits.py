"""A process at its limits: the open-file limit (`ulimit -n`) and `max_readers`.

New readers past a limit are refused cleanly (HTTP 503 in the error shape, or a 1013 close),
the readers already connected are served as before, and the cause is logged once.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import ADMIN, SLUG
from tests.servers import UNIT, ProcessServer, ThreadServer
from tests.test_faults import assert_received_exactly, open_thread, post
from tests.wsclient import Reader

NOFILE = 128  # the server's `ulimit -n` in the test below


def lower_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def assert_refused(response: Any) -> None:
    """A WebSocket upgrade answered 503 in the error shape (a websockets Response)."""
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert json.loads(response.body)["error"]["code"] == "unavailable"


async def post_when_admitted(http: httpx.AsyncClient, body: str) -> int:
    """Post, trying again while the server refuses new connections (503); bounded."""
    async with asyncio.timeout(30 * UNIT):
        while (response := await post(http, body)).status_code == 503:
            await asyncio.sleep(0.1)
    assert response.status_code == 201, response.text
    comment_id: int = response.json()["comment"]["id"]
    return comment_id


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_open_file_limit(loop: str, tmp_path: Path) -> None:
    """With `ulimit -n` low, new readers past it get a 503 (none dropped, none left hanging),
    the readers connected are served as before, and the cause is logged once."""
    env = {"REALTIME_ADMIN_TOKEN": ADMIN, "REALTIME_EVENT_LOOP": loop}
    server = ProcessServer(tmp_path / "db.sqlite", env=env, preexec_fn=lower_nofile).start()
    url = f"{server.ws_url}/ws/articles/{SLUG}"
    readers: list[Reader] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
            auth = {"Authorization": f"Bearer {ADMIN}"}
            created = await http.put(f"/api/articles/{SLUG}", json={"title": "L"}, headers=auth)
            assert created.status_code == 201, created.text
        with pytest.raises(websockets.InvalidStatus) as refused:
            for _ in range(NOFILE):
                readers.append(await Reader.open(url))
                assert (await readers[-1].next())["type"] == "hello"
        assert_refused(refused.value.response)
        assert len(readers) > NOFILE // 2
        for _ in range(10):
            with pytest.raises(websockets.InvalidStatus) as again:
                await Reader.open(url)
            assert_refused(again.value.response)
        flood = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(NOFILE // 2)]
        await asyncio.sleep(0.5 * UNIT)
        for connection in flood:
            connection.close()

        for reader in readers[:5]:
            await reader.close()
        async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
            comment_id = await post_when_admitted(http, "still served")
            await assert_received_exactly(readers[5:], [comment_id])
            metrics = (await http.get("/metrics")).text
        assert float(metric(metrics, "realtime_connections_refused_total")) >= 11
    finally:
        for reader in readers:
            await reader.close()
        server.stop()
    log = server.log_path.read_text()
    assert log.count("open-file limit") == 1, log
    assert "Traceback" not in log and "out of system resource" not in log


async def test_max_readers_refusals_are_counted(start_server: Callable[..., ThreadServer]) -> None:
    """Past `max_readers` a new reader is closed with 1013, and /metrics counts it."""
    server = start_server(max_readers=2)
    async with open_thread(server, 2) as (http, _):
        extra = await Reader.open(f"{server.ws_url}/ws/articles/{SLUG}")
        assert await extra.close_code() == 1013
        metrics = (await http.get("/metrics")).text
    assert metric(metrics, 'realtime_readers_refused_total{limit="max_readers"}') == "1.0"


def metric(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return line.split()[-1]
    raise AssertionError(f"{name} missing")
