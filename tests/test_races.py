"""The live path's three races, each opened wide on purpose so that the bug fails every run.

1. A resuming reader subscribes before its replay reads: a comment committed right after the
   replay's last read still reaches it (`hold_after_replay`).
2. Events are published with the commit, in commit order, not from a task that may run late: with
   every task the app starts held back, readers still get each comment (`late_tasks`).
3. A 201 means committed: while a group's COMMIT is held, its poster has no answer, and at the 201
   a fresh connection on the database has the comment (`GroupCommitWriter.before_commit`).

Each runs for every store (`STORES`), hub (`HUBS`) and way of serving a reader (`WEBSOCKETS`);
docs/testing.md shows each test failing 20 runs out of 20 with its bug planted, and how to add
the PostgreSQL store and hub.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from realtime.web import resume
from tests.conftest import ADMIN, SLUG, post_comment
from tests.holds import Pause, RawPost, hold_after_replay, late_tasks
from tests.pg import fetch_rows
from tests.servers import UNIT, ProcessServer, ThreadServer, make_settings
from tests.wsclient import Reader

# The parametrization points. A store is the `db` setting plus a fresh connection to check what
# is committed; a hub is the `hub` setting. A networked hub runs two servers: posts go to one,
# readers read from the other, so every event crosses the hub.
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# The postgres hub (LISTEN/NOTIFY) needs the PostgreSQL store: conftest.py deselects it on SQLite.
HUBS = [
    "memory",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("postgres", marks=pytest.mark.postgres),
]
# How ws.py serves a reader: through the direct socket of `realtime.web.server`, or through the
# ASGI `send` of any other server (uvicorn's own WebSocket protocol here).
WEBSOCKETS = ["direct", "portable"]


class StoreUnderTest(Protocol):
    db: str  # the `db` setting

    def committed(self, comment_id: int) -> bool:
        """Whether a new connection, opened now, sees the comment."""
        ...


@dataclass
class SqliteFile:
    db: str

    def committed(self, comment_id: int) -> bool:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            row = conn.execute("SELECT 1 FROM comments WHERE id = ?", (comment_id,)).fetchone()
        return row is not None


@dataclass
class PostgresSchema:
    db: str  # a fresh schema's URL (tests/pg.py)

    def committed(self, comment_id: int) -> bool:
        sql = f"SELECT 1 FROM comments WHERE id = {int(comment_id)}"
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # its own loop, its own connection
            return bool(pool.submit(asyncio.run, fetch_rows(self.db, sql)).result())


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """The database the servers share: one branch per entry of STORES."""
    if request.param == "sqlite":
        yield SqliteFile(str(tmp_path / "races.db"))
    elif request.param == "postgres":
        yield PostgresSchema(request.getfixturevalue("postgres").fresh_url())
    else:
        raise AssertionError(f"no such store: {request.param}")


@pytest.fixture(params=HUBS)
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The `hub` setting: one branch per entry of HUBS."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "redis":
        yield request.getfixturevalue("redis_server").url  # tests/conftest.py
    elif request.param == "postgres":
        yield "postgres"  # LISTEN/NOTIFY on the store's own database
    else:
        raise AssertionError(f"no such hub: {request.param}")


@dataclass
class Deployment:
    """The servers under test: `poster` takes the posts, `reader` serves the readers."""

    poster: ThreadServer
    reader: ThreadServer
    http: httpx.AsyncClient
    store: StoreUnderTest
    readers: list[Reader] = field(default_factory=list)

    async def post(self, body: str) -> int:
        response = await post_comment(self.http, SLUG, body=body)
        assert response.status_code == 201, response.text
        comment_id: int = response.json()["comment"]["id"]
        return comment_id

    async def open_reader(self, query: str = "") -> Reader:
        """A reader on the thread, subscribed: its hello has come."""
        reader = await Reader.open(f"{self.reader.ws_url}/ws/articles/{SLUG}{query}")
        self.readers.append(reader)
        await reader.next_of("hello")
        return reader


@pytest.fixture(params=WEBSOCKETS)
async def deployment(
    request: pytest.FixtureRequest, store: StoreUnderTest, hub: str
) -> AsyncIterator[Deployment]:
    """Servers on one store and one hub (set up first, so they stop after the servers)."""
    started: list[ThreadServer] = []

    def start() -> ThreadServer:
        settings = make_settings(store.db, admin_token=ADMIN, rate_limit="off", hub=hub)
        server = ThreadServer(settings)
        if request.param == "portable":
            server.server.config.ws = "websockets-sansio"  # uvicorn's own: no direct socket
        started.append(server.start())
        return server

    try:
        poster = start()
        reader = poster if hub == "memory://" else start()
        async with httpx.AsyncClient(base_url=poster.url, timeout=10 * UNIT) as http:
            response = await http.put(
                f"/api/articles/{SLUG}",
                json={"title": "Races"},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            assert response.status_code == 201, response.text
            deployment = Deployment(poster, reader, http, store)
            yield deployment
            await asyncio.gather(*(opened.close() for opened in deployment.readers))
    finally:
        for server in started:
            server.stop()


async def ids_until(reader: Reader, last: int) -> list[int]:
    """The ids of the comment events the reader gets, up to and including `last`."""
    ids: list[int] = []
    async with asyncio.timeout(5 * UNIT):
        while not ids or ids[-1] < last:
            ids.append((await reader.next_of("comment"))["comment"]["id"])
    return ids


# ---- 1. subscribe before the replay ------------------------------------------------------------


async def test_a_comment_committed_after_the_replay_reaches_the_resuming_reader(
    deployment: Deployment,
) -> None:
    """?after=ID: a comment committed once the replay has read it all arrives, once, in order."""
    d = deployment
    before = [await d.post(f"before {n}") for n in range(3)]
    witness = await d.open_reader()  # shows when the readers' process has the comment
    end_of_replay = Pause()
    hold_after_replay(d.reader, end_of_replay)
    resuming = await d.open_reader(f"?after={before[0]}")
    try:
        await end_of_replay.reached("the replay's last read")
        during = await d.post("committed while the replay is held")
        assert await ids_until(witness, during) == [during]
    finally:
        end_of_replay.release()
    after = await d.post("after the replay")
    assert await ids_until(resuming, after) == [*before[1:], during, after]


# ---- 2. publish with the commit, not from a task -----------------------------------------------


async def test_comments_reach_readers_while_every_task_the_app_starts_waits(
    deployment: Deployment,
) -> None:
    """Publishing is part of the commit: with the app's new tasks held, readers still get all."""
    d = deployment
    reader = await d.open_reader()
    async with late_tasks(d.poster):
        posted = [await d.post(f"while tasks wait {n}") for n in range(3)]
        assert await ids_until(reader, posted[-1]) == posted


# ---- 3. no 201 before COMMIT -------------------------------------------------------------------


async def test_no_answer_until_the_commit_and_a_fresh_connection_sees_the_201(
    deployment: Deployment,
) -> None:
    """While the COMMIT is held the poster gets nothing; at its 201 the comment is committed."""
    d = deployment
    writer = d.poster.service.store.writer
    commit = Pause()
    writer.before_commit = commit.hold
    post = RawPost(d.poster.port, f"/api/articles/{SLUG}/comments", {"author": "K", "body": "b"})
    try:
        await commit.reached("the COMMIT")
        # Anything the server had ready to send has gone by the time a later request is answered.
        assert (await d.http.get("/healthz")).status_code == 200
        assert not post.answered(), "the poster was answered before the COMMIT"
    finally:
        writer.before_commit = None
        commit.release()
    status, body = await post.response()
    assert status == 201, body
    assert d.store.committed(body["comment"]["id"])


# ---- a replay longer than one page ------------------------------------------------------------


async def test_a_replay_of_several_pages_sends_every_comment_and_change_once(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """?after=&rev= in pages of 2: every missed comment, then every missed edit, in order."""
    monkeypatch.setattr(resume, "REPLAY_PAGE", 2)  # the servers run in this process
    d = deployment
    ids = [await d.post(f"c{n}") for n in range(4)]
    rev = (await d.http.get(f"/api/articles/{SLUG}/comments")).json()["rev"]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    for comment_id in ids:
        edit = await d.http.patch(f"/api/comments/{comment_id}", json={"body": "e"}, headers=admin)
        assert edit.status_code == 200, edit.text
    missed = [await d.post(f"missed {n}") for n in range(4)]
    reader = await d.open_reader(f"?after={ids[-1]}&rev={rev}")
    events = [await reader.next_of(kind) for kind in ["comment"] * 4 + ["edit"] * 4]
    assert [event["comment"]["id"] for event in events] == missed + ids
    assert [event["rev"] for event in events[4:]] == sorted({e["rev"] for e in events[4:]})


# ---- a 201 is on disk: for other connections, other processes, and after SIGKILL --------------


def test_a_201_is_visible_everywhere_at_once_and_after_sigkill(
    store: StoreUnderTest, tmp_path: Path
) -> None:
    """At each 201: a new connection and another server process see it; SIGKILL keeps it."""
    env = {"REALTIME_ADMIN_TOKEN": ADMIN}
    first = ProcessServer(store.db, env=env, log=tmp_path / "first.log")
    second = ProcessServer(store.db, env=env, log=tmp_path / "second.log")
    try:
        first.start()
        second.start()
        with httpx.Client(base_url=first.url, timeout=10 * UNIT) as http:
            auth = {"Authorization": f"Bearer {ADMIN}"}
            assert http.put(f"/api/articles/{SLUG}", json={"title": "t"}, headers=auth).is_success
            for n in range(5):
                comment_id = _post(http, f"visible {n}")
                assert store.committed(comment_id)
                assert httpx.get(f"{second.url}/api/comments/{comment_id}").status_code == 200
            comment_id = _post(http, "killed right after")
            first.kill()
        assert store.committed(comment_id)
        assert httpx.get(f"{second.url}/api/comments/{comment_id}").status_code == 200
        first.start()
        assert httpx.get(f"{first.url}/api/comments/{comment_id}").status_code == 200
    finally:
        first.stop()
        second.stop()


def _post(http: httpx.Client, body: str) -> int:
    response = http.post(f"/api/articles/{SLUG}/comments", json={"author": "K", "body": body})
    assert response.status_code == 201, response.text
    comment_id: int = response.json()["comment"]["id"]
    return comment_id
