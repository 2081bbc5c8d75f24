"""Several server processes on one database behave as one server through a real redis-server
(the main cases on SQLite and on PostgreSQL: `store_kind`).

The ordering itself (`Reorder`) is also tested without Redis, on random interleavings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from realtime.live.hub import Message
from realtime.live.redis_hub import RedisHub, channel_prefix
from realtime.live.reorder import Reorder
from tests.conftest import ADMIN, SLUG, STORES, post_comment
from tests.servers import ROOT, UNIT, ProcessServer, RedisServer, ThreadServer, free_port
from tests.wsclient import Reader


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10 * UNIT) as client:
        yield client


async def make_article(http: httpx.AsyncClient, server: ProcessServer) -> str:
    response = await http.put(
        f"{server.url}/api/articles/{SLUG}",
        json={"title": "NATO annual report"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 201, response.text
    return SLUG


async def open_readers(servers: list[ProcessServer], per_server: int) -> list[Reader]:
    urls = [f"{s.ws_url}/ws/articles/{SLUG}" for s in servers for _ in range(per_server)]
    readers = await asyncio.gather(*(Reader.open(url) for url in urls))
    for reader in readers:
        assert (await reader.next())["type"] == "hello"
    return list(readers)


async def post_many(
    http: httpx.AsyncClient, servers: list[ProcessServer], posters: int, each: int, tag: str
) -> list[int]:
    """`posters` tasks on every server post `each` comments; every POST must answer 201."""

    async def poster(server: ProcessServer, worker: int) -> list[int]:
        client = httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT)
        ids = []
        async with client:
            for n in range(each):
                response = await post_comment(client, SLUG, body=f"{tag} {worker} #{n}")
                assert response.status_code == 201, response.text
                ids.append(response.json()["comment"]["id"])
        return ids

    tasks = [poster(server, w) for server in servers for w in range(posters)]
    return sorted(i for ids in await asyncio.gather(*tasks) for i in ids)


async def final_count(reader: Reader, expected: int) -> None:
    """A /ws/counts reader settles on the article's final count, and nothing stale follows."""
    async with asyncio.timeout(10 * UNIT):
        while True:
            event = await reader.next(10)
            counts = event.get("counts", {SLUG: event.get("count")})
            if event["type"] in ("counts", "count") and counts[SLUG] == expected:
                break
    with contextlib.suppress(TimeoutError):
        while True:
            event = await reader.next(0.5)
            assert event.get("count", expected) == expected, f"a stale count after: {event}"


def assert_in_order(events: list[dict[str, Any]], posted: list[int]) -> None:
    ids = [event["comment"]["id"] for event in events]
    assert ids == posted, f"missing {sorted(set(posted) - set(ids))[:10]}, got {len(ids)}"


# ---- several processes through a real Redis ----------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("store_kind", STORES)
async def test_counts_answered_from_memory_follow_other_processes(
    start_processes: Callable[[int], list[ProcessServer]], http: httpx.AsyncClient
) -> None:
    """A process's cached /api/counts answer is dropped by another process's post, via the hub."""
    servers = start_processes(2)
    await make_article(http, servers[0])

    async def count_on(server: ProcessServer) -> int:
        response = await http.get(f"{server.url}/api/counts?articles={SLUG}")
        value: int = response.json()["counts"][SLUG]
        return value

    assert await count_on(servers[1]) == 0  # now kept in the second process's memory
    for n in range(1, 4):
        response = await http.post(
            f"{servers[0].url}/api/articles/{SLUG}/comments",
            json={"author": "Kari", "body": f"elsewhere {n}"},
        )
        assert response.status_code == 201, response.text
        async with asyncio.timeout(5 * UNIT):
            while await count_on(servers[1]) != n:
                await asyncio.sleep(0.02)


@pytest.mark.redis
@pytest.mark.parametrize("store_kind", STORES)
async def test_every_reader_gets_every_comment_once_in_order(
    start_processes: Callable[[int], list[ProcessServer]], http: httpx.AsyncClient
) -> None:
    """Three processes, readers on each, posters on each at once: all comments, in id order."""
    servers = start_processes(3)
    await make_article(http, servers[0])
    readers = await open_readers(servers, per_server=5)
    counters = await asyncio.gather(
        *(Reader.open(f"{s.ws_url}/ws/counts?articles={SLUG}") for s in servers)
    )
    posted = await post_many(http, servers, posters=4, each=20, tag="concurrent")
    assert posted == list(range(posted[0], posted[0] + 240))  # contiguous: no id lost
    for reader in readers:
        events = await reader.comments(240, timeout=30)
        assert_in_order(events, posted)
        assert events[-1]["count"] == 240
    for counter in counters:
        await final_count(counter, 240)
    await asyncio.gather(*(r.close() for r in [*readers, *counters]))


@pytest.mark.redis
async def test_a_publish_that_fails_while_subscribed_is_announced_again(
    start_processes: Callable[[int], list[ProcessServer]],
    redis_server: RedisServer,
    http: httpx.AsyncClient,
) -> None:
    """Redis pauses writes (PUBLISH) but keeps the subscriptions: the one comment posted then
    cannot be published, and no later comment opens a gap. The other process's reader still
    gets it, once the publishing process announces it again."""
    servers = start_processes(2)
    await make_article(http, servers[0])
    (reader,) = await open_readers(servers[1:], per_server=1)
    async with Redis.from_url(redis_server.url) as redis:
        # Past the publisher's two tries of `socket_timeout` (2 s) each.
        await redis.execute_command("CLIENT", "PAUSE", int(5_000 * UNIT), "WRITE")
    posted = await post_many(http, servers[:1], posters=1, each=1, tag="paused")
    assert_in_order(await reader.comments(1, timeout=20), posted)
    await reader.close()


@pytest.mark.redis
@pytest.mark.parametrize("store_kind", STORES)
async def test_redis_restart_loses_nothing(
    start_processes: Callable[[int], list[ProcessServer]],
    redis_server: RedisServer,
    http: httpx.AsyncClient,
) -> None:
    """Redis stops mid-stream: posts still commit, readers stay, and all arrive in order."""
    servers = start_processes(2)
    await make_article(http, servers[0])
    readers = await open_readers(servers, per_server=4)
    posted = await post_many(http, servers, posters=2, each=10, tag="before")
    redis_server.stop()
    posted += await post_many(http, servers, posters=2, each=10, tag="without redis")
    # Still connected, and already caught up from the database, in place.
    for reader in readers:
        assert_in_order(await reader.comments(80, timeout=15), posted)
    redis_server.start()  # and post at once, while the processes are still resubscribing
    posted += await post_many(http, servers, posters=2, each=10, tag="after")
    for reader in readers:
        more = await reader.comments(40, timeout=15)
        assert_in_order(more, posted[80:])
        assert more[-1]["count"] == 120
    await asyncio.gather(*(r.close() for r in readers))


@pytest.mark.redis
async def test_processes_started_without_redis_join_when_it_comes(
    start_processes: Callable[[int], list[ProcessServer]],
    redis_server: RedisServer,
    http: httpx.AsyncClient,
) -> None:
    """Redis down at start: the processes serve anyway (from the database), then use Redis."""
    redis_server.stop()
    first, second = start_processes(2)
    await make_article(http, first)
    readers = await open_readers([first, second], per_server=2)
    posted = await post_many(http, [first], posters=2, each=5, tag="no redis yet")
    for reader in readers:
        assert_in_order(await reader.comments(10, timeout=15), posted)
    redis_server.start()
    await asyncio.sleep(1.5 * UNIT)  # subscribed: from now on nothing tails the database
    posted = await post_many(http, [first], posters=1, each=1, tag="through redis")
    for reader in readers:
        assert_in_order(await reader.comments(1, timeout=5), posted)
    await asyncio.gather(*(r.close() for r in readers))


@pytest.mark.redis
async def test_watchers_across_processes(
    start_processes: Callable[[int], list[ProcessServer]], http: httpx.AsyncClient
) -> None:
    """Readers on two processes each see the total within about two seconds, both ways."""
    first, second = start_processes(2)
    await make_article(http, first)
    a = (await open_readers([first], per_server=1))[0]
    others = await open_readers([second], per_server=2)
    assert await watchers(a, 3) and await watchers(others[0], 3)
    await others[1].close()
    assert await watchers(a, 2) and await watchers(others[0], 2)
    await asyncio.gather(a.close(), others[0].close())


async def watchers(reader: Reader, expected: int) -> bool:
    started = time.monotonic()
    while (await reader.next_of("watchers", timeout=3))["count"] != expected:
        pass
    return time.monotonic() - started < 3 * UNIT


@pytest.mark.redis
async def test_serve_workers_share_one_port(
    tmp_path: Path, redis_server: RedisServer, http: httpx.AsyncClient
) -> None:
    """`realtime serve --workers 2`: two processes on one port, one stream in order."""
    port = free_port()
    env = {**os.environ, "REALTIME_HUB": redis_server.url, "REALTIME_ADMIN_TOKEN": ADMIN}
    env["REALTIME_RATE_LIMIT"] = "off"
    db = tmp_path / "workers.db"
    command = [sys.executable, "-m", "realtime", "serve", "--db", str(db), "--port", str(port)]
    with (tmp_path / "workers.log").open("ab") as log:
        proc = subprocess.Popen(
            [*command, "--workers", "2"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    server = ProcessServer(db, port=port)
    try:
        await wait_healthy(http, server, proc)
        await make_article(http, server)
        readers = await open_readers([server], per_server=8)
        posted = await post_many(http, [server], posters=4, each=10, tag="workers")
        for reader in readers:
            assert_in_order(await reader.comments(40, timeout=15), posted)
        await asyncio.gather(*(r.close() for r in readers))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


async def wait_healthy(
    http: httpx.AsyncClient, server: ProcessServer, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 20 * UNIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve --workers exited"
        try:
            if (await http.get(f"{server.url}/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("serve --workers did not answer /healthz")


def test_workers_need_a_network_hub(tmp_path: Path) -> None:
    """Workers with the in-process hub would each be a separate server: refused at start."""
    result = subprocess.run(
        [sys.executable, "-m", "realtime", "serve", "--db", str(tmp_path / "x.db")]
        + ["--workers", "2"],
        env={k: v for k, v in os.environ.items() if not k.startswith("REALTIME_")},
        cwd=ROOT,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2 and b"redis://" in result.stderr


async def test_a_write_waits_for_another_process_write_lock(
    tmp_path: Path, start_server: Callable[..., ThreadServer]
) -> None:
    """BEGIN IMMEDIATE waits (busy_timeout) while another process writes: 201, not 503."""
    db = tmp_path / "locked.db"
    server = start_server(db=db)
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as client:
        response = await client.put(
            f"/api/articles/{SLUG}",
            json={"title": "t"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert response.status_code == 201
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # as another process's writer would
        asyncio.get_running_loop().call_later(1.0, other.execute, "COMMIT")
        started = time.monotonic()
        response = await post_comment(client, SLUG)
        waited = time.monotonic() - started
        other.close()
    assert response.status_code == 201, response.text
    assert waited >= 0.9


class FakeBackfill:
    """A database of published comments: id -> events, as `StoreBackfill` builds them."""

    def __init__(self) -> None:
        self.rows: dict[int, list[tuple[str, Message]]] = {}

    async def last_id(self) -> int:
        return max(self.rows, default=0)

    async def published(self, first: int, last: int) -> dict[int, list[tuple[str, Message]]]:
        return {i: events for i, events in self.rows.items() if first <= i <= last}


def wire(origin: str, seq: int, events: list[tuple[str, bytes, int | None, int]]) -> bytes:
    """An envelope as another process publishes it (origin, sequence, events)."""
    return msgspec.msgpack.encode([origin, seq, [list(event) for event in events]])


@pytest.mark.redis
async def test_a_lost_event_is_read_back_and_its_late_copy_dropped(
    redis_server: RedisServer,
) -> None:
    """Comment 2 arrives without 1: 1 comes from the database; 1's late copy, count and all, is
    dropped; a retried envelope is dropped too."""
    backfill = FakeBackfill()
    hub = RedisHub(redis_server.url, 1 << 20, backfill, gap_wait=0.1)
    await hub.start()
    peer = Redis.from_url(redis_server.url)
    channel = f"{channel_prefix(redis_server.url)}:events"
    try:
        async with hub.subscribe(["article:a", "count:a"]) as reader:
            backfill.rows[1] = [("article:a", comment(1)), ("count:a", other("count 1 (back)"))]
            two = [("article:a", b'{"type":"comment"}', 2, 2), ("count:a", b"count 2", None, 2)]
            await peer.publish(channel, wire("fast", 1, two))
            got: list[str] = []
            async with asyncio.timeout(5 * UNIT):
                while len(got) < 4:
                    got += [f"{m.comment_id}:{m.text}" for m in await reader.drain()]
            late = [("article:a", b'{"type":"comment"}', 1, 1), ("count:a", b"count 1", None, 1)]
            await peer.publish(channel, wire("slow", 1, late))  # 1's own publish, late
            await peer.publish(channel, wire("fast", 1, two))  # a retried publish
            await peer.publish(channel, wire("fast", 2, [("count:a", b"count 3", None, 2)]))
            async with asyncio.timeout(5 * UNIT):
                while len(got) < 5:
                    got += [f"{m.comment_id}:{m.text}" for m in await reader.drain()]
        assert got == [
            '1:{"type":"comment"}',
            'None:{"type":"count 1 (back)"}',
            '2:{"type":"comment"}',
            "None:count 2",
            "None:count 3",
        ]
        assert hub.stats.published == 5  # the late comment 1 was dropped in the hub already
    finally:
        await peer.aclose()
        await hub.close()


# ---- the ordering, without Redis -------------------------------------------------------------


def comment(comment_id: int) -> Message:
    return Message.of(b'{"type":"comment"}', comment_id)


def other(text: str) -> Message:
    return Message.of(f'{{"type":"{text}"}}'.encode())


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(1, 40),
    origins=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    lost=st.floats(0, 0.5),
    pending=st.floats(0, 0.3),
)
def test_reorder_delivers_every_published_comment_once_in_id_order(
    total: int, origins: int, seed: int, lost: float, pending: float
) -> None:
    """Any interleaving of any processes' streams, with losses and never-published ids."""
    rng = random.Random(seed)
    published = [i for i in range(1, total + 1) if rng.random() >= pending]
    streams: list[list[int]] = [[] for _ in range(origins)]
    for comment_id in published:
        streams[rng.randrange(origins)].append(comment_id)
    delivered: list[int] = []
    reorder = Reorder(lambda topic, message: delivered.append(message.comment_id or 0), 1)
    cursors = [0] * origins
    while any(c < len(s) for c, s in zip(cursors, streams, strict=True)):
        origin = rng.choice([o for o in range(origins) if cursors[o] < len(streams[o])])
        comment_id = streams[origin][cursors[origin]]
        cursors[origin] += 1
        if rng.random() >= lost:
            reorder.push("t", comment(comment_id), comment_id)
        if reorder.blocked and rng.random() < 0.2:  # the gap timer fires now and then
            first, last = reorder.wanted() or (1, 0)
            reorder.fill(first, last, {i: [("t", comment(i))] for i in published})
    reorder.mark(total)  # the catch-up after the last event: everything is committed
    first, last = reorder.wanted() or (1, 0)
    reorder.fill(first, last, {i: [("t", comment(i))] for i in published})
    assert delivered == published


def test_reorder_keeps_a_process_events_after_its_comment() -> None:
    """A count published after comment 3 waits for 3, which waits for 2 from another process."""
    seen: list[str] = []
    reorder = Reorder(lambda topic, message: seen.append(f"{topic}:{message.comment_id}"), 1)
    reorder.push("a", comment(1), 1)
    reorder.push("a", comment(3), 3)
    reorder.push("count", other("count"), 3)
    assert seen == ["a:1"] and reorder.blocked
    reorder.push("a", comment(2), 2)
    assert seen == ["a:1", "a:2", "a:3", "count:None"] and not reorder.blocked


def test_reorder_late_comment_is_delivered_but_a_filled_one_only_once() -> None:
    """An id resolved as not published and published later (approved) still goes out."""
    seen: list[int | None] = []
    reorder = Reorder(lambda topic, message: seen.append(message.comment_id), 1)
    reorder.push("a", comment(3), 3)
    reorder.fill(1, 2, {1: [("a", comment(1))]})  # 2 is pending
    assert seen == [1, 3]
    assert reorder.push("a", comment(1), 1) is False  # the filled one, arriving late
    assert reorder.push("a", comment(2), 2) is True  # approved after all
    assert seen == [1, 3, 2]


@pytest.mark.redis
async def test_vote_events_are_coalesced_across_processes(
    start_processes: Callable[[int], list[ProcessServer]], http: httpx.AsyncClient
) -> None:
    """Votes on one process, readers on both: a few `vote` events each (coalesced before Redis),
    the last with the final score, and the comments around them still in id order."""
    servers = start_processes(2)
    await make_article(http, servers[0])
    comments = [f"{server.url}/api/articles/{SLUG}/comments" for server in servers]
    posted = await http.post(comments[0], json={"author": "Kari", "body": "Vote on me."})
    first = posted.json()["comment"]["id"]
    readers = await open_readers(servers, per_server=1)
    started = time.monotonic()
    votes = 300

    async def vote(n: int) -> None:
        ballot = {"voter": f"voter-{n:012d}", "value": 1}
        answer = await http.post(f"{servers[0].url}/api/comments/{first}/vote", json=ballot)
        assert answer.status_code == 200, answer.text

    async with asyncio.timeout(60 * UNIT):
        for chunk in range(0, votes, 50):  # 50 at a time: the server's pace, not a flood
            await asyncio.gather(*(vote(n) for n in range(chunk, chunk + 50)))
    elapsed = time.monotonic() - started
    posted = await http.post(comments[1], json={"author": "Per", "body": "After the votes."})
    later = posted.json()["comment"]["id"]
    for reader in readers:
        votes_seen: list[dict[str, Any]] = []
        ids: list[int] = []
        async with asyncio.timeout(10 * UNIT):
            while not (votes_seen and votes_seen[-1]["score"] == votes and later in ids):
                event = await reader.next()
                if event["type"] == "vote":
                    votes_seen.append(event)
                elif event["type"] == "comment":
                    ids.append(event["comment"]["id"])
        # At most 4 a second after the first, for as long as the burst lasted (and one more).
        assert len(votes_seen) <= 2 + elapsed * 4, (len(votes_seen), elapsed)
        assert len(votes_seen) < votes / 10
        assert ids == [later]  # the comment stream is untouched by the votes
    await asyncio.gather(*(r.close() for r in readers))
