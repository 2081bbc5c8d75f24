"""Three `realtime` processes on one PostgreSQL database, on the Redis hub and on the postgres hub
(LISTEN/NOTIFY): posters on all three, readers on all three that drop and resume mid-stream,
on another process each time. Every reader gets every comment of its article once, in id order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from realtime.store.pg_notify import PART_CHARS, Joiner, PgLink, split
from tests.conftest import ADMIN, post_comment
from tests.pg import PostgresServer
from tests.servers import UNIT, ProcessServer, RedisServer
from tests.wsclient import Reader

pytestmark = pytest.mark.postgres
ARTICLES = ("first", "second")
POSTERS = 2  # per process and article
EACH = 8  # comments per poster
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def store_kind() -> str:
    return "postgres"


@pytest.fixture(params=["redis", "postgres"])
def hub_url(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        return "postgres"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


async def post_all(servers: list[ProcessServer]) -> dict[str, list[int]]:
    """POSTERS tasks per process and article, each posting EACH comments; all must be 201.
    Returns each article's comment ids, sorted."""

    async def poster(server: ProcessServer, slug: str, worker: int) -> tuple[str, list[int]]:
        ids = []
        async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as client:
            for n in range(EACH):
                response = await post_comment(client, slug, body=f"{worker} #{n}")
                assert response.status_code == 201, response.text
                ids.append(response.json()["comment"]["id"])
        return slug, ids

    tasks = [
        poster(server, slug, worker)
        for server in servers
        for slug in ARTICLES
        for worker in range(POSTERS)
    ]
    posted: dict[str, list[int]] = {slug: [] for slug in ARTICLES}
    for slug, ids in await asyncio.gather(*tasks):
        posted[slug] += ids
    return {slug: sorted(ids) for slug, ids in posted.items()}


async def resuming_reader(
    servers: list[ProcessServer], slug: str, total: int, seed: int
) -> list[int]:
    """Read the article's comments; three times, drop the connection after a few and resume
    with ?after=<last id> on the next process. Returns every comment id received, in order."""
    rng = random.Random(seed)
    ids: list[int] = []
    hop = seed
    async with asyncio.timeout(60 * UNIT):
        while len(ids) < total:
            server = servers[hop % len(servers)]
            after = ids[-1] if ids else 0
            reader = await Reader.open(f"{server.ws_url}/ws/articles/{slug}?after={after}")
            take = rng.randint(3, 12) if hop - seed < 3 else total
            got = 0
            while got < take and len(ids) < total:
                event: dict[str, Any] = await reader.next(timeout=20)
                if event["type"] == "comment":
                    ids.append(event["comment"]["id"])
                    got += 1
            await reader.close()
            hop += 1
    return ids


async def test_three_processes_one_postgres_every_reader_every_comment_in_order(
    start_processes: Callable[[int], list[ProcessServer]], hub_url: str
) -> None:
    """Posters and resuming readers on all three processes, two articles at once: each reader
    gets each comment of its article once, in id order, and the counts add up."""
    servers = start_processes(3)
    total = len(servers) * POSTERS * EACH
    async with httpx.AsyncClient(timeout=10 * UNIT) as http:
        for slug in ARTICLES:
            response = await http.put(
                f"{servers[0].url}/api/articles/{slug}", json={"title": slug}, headers=AUTH
            )
            assert response.status_code == 201
        readers = [
            asyncio.create_task(resuming_reader(servers, slug, total, seed))
            for slug in ARTICLES
            for seed in range(len(servers))
        ]
        await asyncio.sleep(0.3 * UNIT)  # the first connections are open: they read live
        posted = await post_all(servers)
        results = await asyncio.gather(*readers)
        for slug in ARTICLES:
            article = (await http.get(f"{servers[2].url}/api/articles/{slug}")).json()
            assert article["count"] == total
    for (slug, _seed), ids in zip(
        [(slug, seed) for slug in ARTICLES for seed in range(len(servers))], results, strict=True
    ):
        assert ids == posted[slug], f"{slug}: missing {sorted(set(posted[slug]) - set(ids))}"
    every = sorted(posted[ARTICLES[0]] + posted[ARTICLES[1]])
    assert every == list(range(every[0], every[0] + len(every)))  # no id lost between them


def test_split_and_join_round_trip() -> None:
    """A message over NOTIFY's limit goes out in parts under it and comes back whole, even with
    another message's parts in between; a lone part never completes."""
    big = bytes(range(256)) * 100
    parts = split(big, "a1")
    assert len(parts) > 1 and all(len(part.encode()) < 8000 for part in parts)
    small = split(b"hello", "a2")
    assert len(small) == 1 and len(small[0]) < PART_CHARS
    joiner = Joiner()
    assert joiner.add(parts[0]) is None
    assert joiner.add(small[0]) == b"hello"
    results = [joiner.add(part) for part in parts[1:]]
    assert results[-1] == big and results[:-1] == [None] * (len(parts) - 2)
    assert Joiner().add(split(big, "b")[1]) is None


async def test_postgres_link_carries_a_message_past_the_payload_limit(
    postgres: PostgresServer,
) -> None:
    """Through a real PostgreSQL: a 40 kB message from one link reaches another whole, in order
    after a small one."""
    url = postgres.fresh_url()
    sender, receiver = PgLink(url), PgLink(url)
    try:
        await receiver.subscribe(["t:events"])
        big = ("é" * 20_000).encode()
        await sender.publish("t:events", b"first")
        await sender.publish("t:events", big)
        assert await receiver.receive(5 * UNIT) == ("t:events", b"first")
        assert await receiver.receive(5 * UNIT) == ("t:events", big)
    finally:
        await sender.close()
        await receiver.close()
