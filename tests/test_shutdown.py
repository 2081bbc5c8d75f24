"""Faults: SIGTERM drains gracefully; a locked database answers 503 and recovers."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ADMIN, post_comment
from tests.servers import ProcessServer
from tests.test_http import assert_error
from tests.wsclient import Reader


async def test_sigterm_closes_readers_with_1001(tmp_path: Path) -> None:
    """On SIGTERM readers get 1001 (going away) and every acknowledged comment is stored."""
    db = tmp_path / "term.sqlite"
    server = ProcessServer(db, env={"REALTIME_ADMIN_TOKEN": ADMIN}).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            await http.put(
                "/api/articles/t", json={"title": "T"}, headers={"Authorization": f"Bearer {ADMIN}"}
            )
            reader = await Reader.open(f"{server.ws_url}/ws/articles/t")
            await reader.next()
            posts = [asyncio.create_task(post_comment(http, "t", body=f"n{n}")) for n in range(20)]
            await asyncio.sleep(0.01)
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            outcomes = await asyncio.gather(*posts, return_exceptions=True)
            assert await reader.close_code(10) == 1001
        # uvicorn re-raises the captured SIGTERM once it has shut down cleanly.
        assert server.proc.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        server.stop()
    acknowledged = {
        o.json()["comment"]["id"]
        for o in outcomes
        if isinstance(o, httpx.Response) and o.status_code == 201
    }
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM comments")}
        count = conn.execute("SELECT count FROM articles").fetchone()[0]
    assert acknowledged <= stored and count == len(stored)


async def test_locked_database_answers_503_then_recovers(start_server: Any) -> None:
    """While another process holds the write lock, a POST is 503 in the error shape; after, 201."""
    server = start_server(busy_timeout_ms=100)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put(
            "/api/articles/l", json={"title": "L"}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        blocker = sqlite3.connect(server.settings.db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            assert_error(await post_comment(http, "l"), 503)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert (await http.get("/api/articles/l")).json()["count"] == 0
        assert (await post_comment(http, "l")).status_code == 201
        assert (await http.get("/api/articles/l")).json()["count"] == 1
