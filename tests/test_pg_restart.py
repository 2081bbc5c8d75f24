"""PostgreSQL restarts under two `realtime` processes (postgres hub) with readers connected: while
it is down posts answer 503 in the error shape within a bounded time, readers stay connected, and
once it is back the same processes (their pools, their LISTEN links) go on; nothing acknowledged
is lost and every reader gets every comment in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN, post_comment
from tests.pg import PostgresServer, fetch_rows, pg_bin
from tests.servers import UNIT, ProcessServer
from tests.test_http import assert_error
from tests.wsclient import Reader

pytestmark = pytest.mark.postgres
SLUG = "restart"
BUSY_TIMEOUT_MS = 1000


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own (fsync on): restarting it disturbs no other test."""
    bindir = pg_bin()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed (scripts/system-deps.sh installs it)")
    server = PostgresServer(bindir).init()
    yield server
    server.remove()


async def post_some(clients: list[httpx.AsyncClient], count: int) -> list[int]:
    ids = []
    for n in range(count):
        response = await post_comment(clients[n % len(clients)], SLUG, body=f"n{n}")
        assert response.status_code == 201, response.text
        ids.append(response.json()["comment"]["id"])
    return ids


async def post_when_back(client: httpx.AsyncClient) -> int:
    """The first post after the restart: 503 until the server takes connections, then 201."""
    deadline = time.monotonic() + 30 * UNIT
    while True:
        response = await post_comment(client, SLUG, body="first after")
        if response.status_code == 201:
            return int(response.json()["comment"]["id"])
        assert_error(response, 503)
        assert time.monotonic() < deadline, "still 503 long after PostgreSQL came back"
        await asyncio.sleep(0.2)


async def test_postgres_restart_mid_stream(own_postgres: PostgresServer, tmp_path: Path) -> None:
    """Down: 503s in bounded time, readers kept. Back: posting resumes without restarting
    realtime, all acknowledged comments are stored, readers get them all in order."""
    url = own_postgres.url()
    env = {
        "REALTIME_HUB": "postgres",
        "REALTIME_ADMIN_TOKEN": ADMIN,
        "REALTIME_BUSY_TIMEOUT_MS": str(BUSY_TIMEOUT_MS),
        "REALTIME_LOG_LEVEL": "warning",
    }
    servers = [ProcessServer(url, env=env, log=tmp_path / f"p{n}.log").start() for n in range(2)]
    clients = [httpx.AsyncClient(base_url=s.url, timeout=10 * UNIT) for s in servers]
    try:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        assert await clients[0].put(f"/api/articles/{SLUG}", json={"title": "R"}, headers=auth)
        readers = [
            await Reader.open(f"{s.ws_url}/ws/articles/{SLUG}") for s in servers for _ in range(2)
        ]
        for reader in readers:
            assert (await reader.next_of("hello"))["type"] == "hello"
        acknowledged = await post_some(clients, 10)
        for reader in readers:
            got = [event["comment"]["id"] for event in await reader.comments(10, 20)]
            assert got == acknowledged

        await asyncio.to_thread(own_postgres.stop, "fast")
        for client in clients:
            started = time.monotonic()
            assert_error(await post_comment(client, SLUG, body="while down"), 503)
            assert time.monotonic() - started < 5 * UNIT + BUSY_TIMEOUT_MS / 1000
            assert_error(await client.get(f"/api/articles/{SLUG}/comments"), 503)
        for reader in readers:  # still connected: a ping is answered by the process
            await reader.connection.send('{"type": "ping"}')
            assert (await reader.next_of("pong"))["type"] == "pong"

        await asyncio.to_thread(own_postgres.start)
        acknowledged.append(await post_when_back(clients[1]))
        acknowledged += await post_some(clients, 10)

        stored = [row[0] for row in await fetch_rows(url, "SELECT id FROM comments ORDER BY id")]
        assert set(acknowledged) <= set(stored)
        assert stored == sorted(acknowledged)  # the 503s stored nothing
        for reader in readers:
            got = [event["comment"]["id"] for event in await reader.comments(len(stored) - 10, 20)]
            assert got == stored[10:]
        count = (await clients[0].get(f"/api/articles/{SLUG}")).json()["count"]
        assert count == len(stored)
        await asyncio.gather(*(reader.close() for reader in readers))
    finally:
        for client in clients:
            await client.aclose()
        for server in servers:
            server.stop()
