"""A 201 means the comment is on disk: SIGKILL right after loses nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import STORES
from tests.servers import ProcessServer


@pytest.mark.parametrize("store_kind", STORES)
def test_acknowledged_comment_survives_sigkill(tmp_path: Path, new_db: Callable[[], str]) -> None:
    """Post, kill -9 the server at once, restart on the same database: the comment is there."""
    env = {"REALTIME_ADMIN_TOKEN": "t"}
    server = ProcessServer(new_db(), env=env, log=tmp_path / "durable.log").start()
    try:
        auth = {"Authorization": "Bearer t"}
        httpx.put(f"{server.url}/api/articles/d", json={"title": "D"}, headers=auth)
        acknowledged = []
        for n in range(20):
            response = httpx.post(
                f"{server.url}/api/articles/d/comments", json={"author": "K", "body": f"n{n}"}
            )
            assert response.status_code == 201
            acknowledged.append(response.json()["comment"]["id"])
        server.kill()
        server.start()
        page = httpx.get(f"{server.url}/api/articles/d/comments").json()
        assert [c["id"] for c in page["comments"]] == acknowledged
        assert page["count"] == 20
    finally:
        server.stop()
