"""Crash test: SIGKILL the server at random moments while readers read and posters post."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import ADMIN, STORES
from tests.pg import fetch_rows
from tests.servers import UNIT, ProcessServer
from tests.wsclient import Reader

KILLS = 3
POSTERS = 4
READERS = 5


async def resuming_reader(url: str, ids: list[int], stop: asyncio.Event) -> None:
    """Read comments; whenever the connection drops, reconnect with ?after=<last id>."""
    while not stop.is_set():
        try:
            after = ids[-1] if ids else 0
            reader = await Reader.open(f"{url}?after={after}")
            while True:
                event = await reader.next(timeout=30)
                if event["type"] == "comment":
                    ids.append(event["comment"]["id"])
        except (OSError, TimeoutError, websockets.WebSocketException):
            await asyncio.sleep(0.05)


async def poster(http: httpx.AsyncClient, acknowledged: list[int], stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set() and n < 2000:
        n += 1
        try:
            response = await http.post(
                "/api/articles/crash/comments", json={"author": "P", "body": f"post {n}"}
            )
            if response.status_code == 201:
                acknowledged.append(response.json()["comment"]["id"])
        except httpx.HTTPError:
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("store_kind", STORES)
async def test_sigkill_loses_nothing(tmp_path: Path, new_db: Callable[[], str]) -> None:
    """Every 201 is stored once, counts match, and resuming readers saw everything in order."""
    db = new_db()
    env = {"REALTIME_ADMIN_TOKEN": ADMIN}
    process = ProcessServer(db, env=env, log=tmp_path / "crash.log")
    server = await asyncio.to_thread(process.start)
    rng = random.Random(20261126)
    stop_posting, stop_reading = asyncio.Event(), asyncio.Event()
    acknowledged: list[int] = []
    seen: list[list[int]] = [[] for _ in range(READERS)]
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            await http.put(
                "/api/articles/crash",
                json={"title": "Crash"},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            url = f"{server.ws_url}/ws/articles/crash"
            readers = [asyncio.create_task(resuming_reader(url, ids, stop_reading)) for ids in seen]
            posters = [
                asyncio.create_task(poster(http, acknowledged, stop_posting))
                for _ in range(POSTERS)
            ]
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.3, 0.8))
                server.kill()
                await asyncio.to_thread(server.start)
            await asyncio.sleep(0.3)
            stop_posting.set()
            await asyncio.gather(*posters)
            stored = [row[0] for row in await fetch_rows(db, "SELECT id FROM comments ORDER BY id")]
            count = (await fetch_rows(db, "SELECT count FROM articles"))[0][0]
            deadline = time.monotonic() + 20 * UNIT
            while any(ids[-1:] != stored[-1:] for ids in seen) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            stop_reading.set()
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    finally:
        server.stop()
    print(
        f"kills={KILLS} acknowledged={len(acknowledged)} stored={len(stored)} lost="
        f"{len(set(acknowledged) - set(stored))}"
    )
    assert len(acknowledged) > 50
    assert len(acknowledged) == len(set(acknowledged))
    assert set(acknowledged) <= set(stored)  # nothing acknowledged is lost
    assert count == len(stored)
    for ids in seen:
        assert ids == stored  # every comment exactly once, in order
