from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings
from playwright.async_api import Browser

from tests.browser import Problems, chromium
from tests.pg import PostgresServer, pg_bin
from tests.servers import (
    REDIS_SERVER,
    UNIT,
    ProcessServer,
    RedisServer,
    ThreadServer,
    make_settings,
)

# CI runs the property tests on a fixed seed so a green main stays green; locally they explore.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ADMIN = "test-admin-token"
SLUG = "nato-annual-report"
ARTICLE_TITLE = "NATO annual report"


# ---- the store under test: one parameter -----------------------------------------------------

# A module or test that must hold on both stores says so with
#     pytestmark = pytest.mark.parametrize("store_kind", STORES)
# and every database it makes through `new_db` (`start_server`, `store`) is of that kind.
STORES = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL cluster for the session, started only if a test asks for it."""
    bindir = pg_bin()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed (scripts/system-deps.sh installs it)")
    server = PostgresServer(bindir).init()
    yield server
    server.remove()


@pytest.fixture
def store_kind() -> str:
    """SQLite unless the test is parametrized over `STORES`."""
    return "sqlite"


@pytest.fixture
def new_db(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Make an empty database of the kind under test; returns its `db` setting."""
    made = iter(range(1_000_000))

    def make() -> str:
        if store_kind == "postgres":
            server: PostgresServer = request.getfixturevalue("postgres")
            return server.fresh_url()
        return str(tmp_path / f"db{next(made)}.sqlite")

    return make


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests on PostgreSQL carry the `postgres` marker (`-m "not postgres"` leaves them out);
    a postgres hub over an SQLite store cannot be configured, so that pairing is not collected."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("store_kind") == "postgres":
            item.add_marker(pytest.mark.postgres)
        if params.get("hub") == "postgres" and params.get("store") == "sqlite":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def start_server(new_db: Callable[[], str]) -> Iterator[Callable[..., ThreadServer]]:
    """Start a real uvicorn server with settings overrides; all are stopped at the end."""
    started: list[ThreadServer] = []

    def start(**overrides: Any) -> ThreadServer:
        overrides.setdefault("admin_token", ADMIN)
        # Tests post from one address far faster than a person; test_abuse.py turns limits on.
        overrides.setdefault("rate_limit", "off")
        db = overrides.pop("db", None) or new_db()
        server = ThreadServer(make_settings(db, **overrides)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# ---- several server processes on one database and one hub ------------------------------------


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).exists():
        pytest.fail("redis-server is not installed (scripts/system-deps.sh installs it)")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir).start()
    yield server
    server.stop()


@pytest.fixture
def hub_url(redis_server: RedisServer) -> str:
    """The hub the processes share (test_scale_out.py also runs them on `postgres`)."""
    return redis_server.url


@pytest.fixture
def start_processes(
    tmp_path: Path, new_db: Callable[[], str], hub_url: str
) -> Iterator[Callable[[int], list[ProcessServer]]]:
    """`realtime serve` processes on one database and one hub; all are stopped at the end."""
    started: list[ProcessServer] = []
    db = new_db()
    env = {
        "REALTIME_HUB": hub_url,
        "REALTIME_ADMIN_TOKEN": ADMIN,
        "REALTIME_RATE_LIMIT": "off",
        "REALTIME_LOG_LEVEL": "warning",
        # GET /api/counts from memory for an hour: only the hub's count events may refresh it.
        "REALTIME_COUNTS_CACHE_SECONDS": "3600",
    }

    def start(count: int) -> list[ProcessServer]:
        servers = []
        for _ in range(count):  # one after the other: the first creates the schema
            n = len(started)
            server = ProcessServer(db, env=env, log=tmp_path / f"p{n}.log")
            started.append(server.start())
            servers.append(server)
        return servers

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
        json={"title": ARTICLE_TITLE},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 201, response.text
    return SLUG


async def post_comment(client: httpx.AsyncClient, slug: str, **fields: Any) -> httpx.Response:
    fields.setdefault("author", "Kari")
    fields.setdefault("body", "A comment.")
    return await client.post(f"/api/articles/{slug}/comments", json=fields)


# ---- browser tests (tests/test_browser.py, tests/test_admin_page.py) ---------------------------


@dataclass
class Site:
    """A server under test with an HTTP client on it, as the browser tests drive it."""

    server: ThreadServer | ProcessServer
    http: httpx.AsyncClient

    @property
    def url(self) -> str:
        return self.server.url

    def article_url(self, slug: str = SLUG) -> str:
        return f"{self.url}/articles/{slug}"

    async def article(
        self, slug: str = SLUG, title: str = ARTICLE_TITLE, url: str | None = None
    ) -> None:
        response = await self.http.put(
            f"/api/articles/{slug}",
            json={"title": title, "url": url},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert response.status_code in (200, 201), response.text

    async def post(self, body: str, slug: str = SLUG, **fields: Any) -> dict[str, Any]:
        fields.setdefault("author", "Kari")
        response = await self.http.post(
            f"/api/articles/{slug}/comments", json={"body": body, **fields}
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture
async def make_site(
    start_server: Callable[..., ThreadServer],
) -> AsyncIterator[Callable[..., Any]]:
    """Start a server with settings overrides and create the test article on it."""
    clients: list[httpx.AsyncClient] = []

    async def make(**settings: Any) -> Site:
        server = start_server(**settings)
        client = httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT)
        clients.append(client)
        site = Site(server, client)
        await site.article()
        return site

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
def problems() -> Iterator[Problems]:
    """Every page's uncaught errors and console errors; the test fails if any is left."""
    found = Problems()
    yield found
    assert found.errors == []
