from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings

from tests.servers import ThreadServer, make_settings

# CI runs the property tests on a fixed seed so a green main stays green; locally they explore.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ADMIN = "test-admin-token"
SLUG = "nato-annual-report"


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ThreadServer]]:
    """Start a real uvicorn server with settings overrides; all are stopped at the end."""
    started: list[ThreadServer] = []

    def start(**overrides: Any) -> ThreadServer:
        overrides.setdefault("admin_token", ADMIN)
        # Tests post from one address far faster than a person; test_abuse.py turns limits on.
        overrides.setdefault("rate_limit", "off")
        db = overrides.pop("db", tmp_path / f"db{len(started)}.sqlite")
        server = ThreadServer(make_settings(db, **overrides)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., ThreadServer]) -> ThreadServer:
    return start_server()


@pytest.fixture
async def client(server: ThreadServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        yield http


@pytest.fixture
async def article(client: httpx.AsyncClient) -> str:
    response = await client.put(
        f"/api/articles/{SLUG}",
        json={"title": "NATO annual report"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 201, response.text
    return SLUG


async def post_comment(client: httpx.AsyncClient, slug: str, **fields: Any) -> httpx.Response:
    fields.setdefault("author", "Kari")
    fields.setdefault("body", "A comment.")
    return await client.post(f"/api/articles/{slug}/comments", json=fields)
