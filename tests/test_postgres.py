"""What only PostgreSQL has to prove: migrations and its version table, placeholders, and the
writer lock that keeps ids and change numbers in commit order across processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from realtime.errors import Unavailable
from realtime.models import ArticleIn
from realtime.store import SchemaTooNew, Store, pg_schema
from realtime.store.db import Tx, scalar
from realtime.store.pg_notify import PgLink
from realtime.store.postgres import dollar_params
from tests.pg import PostgresServer, fetch_rows
from tests.servers import ROOT, UNIT
from tests.test_store import edit_text, new_comment

pytestmark = pytest.mark.postgres
WHEN = "2026-11-26T00:00:00.000Z"


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.fresh_url()


@pytest.fixture
async def stores(url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database: two processes' writers, as on two machines."""
    first = await Store.open(url)
    second = await Store.open(url)
    for slug in ("x", "y"):
        await first.put_article(slug, ArticleIn(title=slug), WHEN)
    yield first, second
    await first.close()
    await second.close()


def test_placeholders_become_numbered_outside_quotes() -> None:
    """`?` turns into $1, $2, …; a `?` inside a string or a quoted name stays."""
    sql = "SELECT '?', \"a?\" FROM t WHERE a = ? AND b IN (?, ?) AND c = 'it''s ?'"
    assert dollar_params(sql) == (
        "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b IN ($2, $3) AND c = 'it''s ?'"
    )


async def test_migrations_are_recorded_and_applied_once(url: str) -> None:
    """A fresh schema gets every migration, one row each in schema_version; reopening applies
    nothing, and the avatar key is made once."""
    store = await Store.open(url)
    key = store.avatar_key
    await store.close()
    again = await Store.open(url)
    try:
        assert again.avatar_key == key and len(key) == 32
        assert await again.backend.schema_version() == len(pg_schema.MIGRATIONS)
    finally:
        await again.close()
    rows = await fetch_rows(url, "SELECT version FROM schema_version ORDER BY version")
    assert rows == [(n,) for n in range(1, len(pg_schema.MIGRATIONS) + 1)]


async def test_concurrent_starts_migrate_once(url: str) -> None:
    """Three processes starting at once on an empty schema: one migrates, all open."""
    opened = await asyncio.gather(*(Store.open(url) for _ in range(3)))
    assert len({store.avatar_key for store in opened}) == 1
    await asyncio.gather(*(store.close() for store in opened))


async def test_a_newer_schema_is_refused_on_both(url: str, tmp_path: Path) -> None:
    """A database migrated by a newer realtime stops start-up with a clear error."""
    store = await Store.open(url)
    await store.close()
    conn = await asyncpg.connect(url)
    await conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    await conn.close()
    with pytest.raises(SchemaTooNew, match="version 99, newer than this realtime knows"):
        await Store.open(url)
    path = tmp_path / "newer.sqlite"
    with sqlite3.connect(path) as lite:
        lite.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaTooNew, match="version 99"):
        await Store.open(path)
    result = subprocess.run(
        [sys.executable, "-m", "realtime", "serve", "--db", url, "--port", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60 * UNIT,
    )
    assert result.returncode == 2 and "refusing to start" in result.stderr
    assert "Traceback" not in result.stderr


async def test_realtime_migrate_alone(url: str) -> None:
    """`realtime migrate` brings the schema up to date, says so, and serves nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "realtime", "migrate", "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60 * UNIT,
    )
    assert result.returncode == 0, result.stderr
    assert f"postgresql database is at schema version {len(pg_schema.MIGRATIONS)}" in (
        result.stdout
    )
    assert await fetch_rows(url, "SELECT count(*) FROM articles") == [(0,)]


async def writer_lock(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        return pg_schema.lock_key(pg_schema.WRITER_LOCK, await pg_schema.schema_oid(conn))
    finally:
        await conn.close()


async def test_writer_lock_held_elsewhere_is_503_then_recovers(url: str) -> None:
    """While another process holds the writer lock past the busy timeout, writes get 503."""
    store = await Store.open(url, busy_timeout_ms=200)
    blocker = await asyncpg.connect(url)
    try:
        await store.put_article("a", ArticleIn(title="A"), WHEN)
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("SELECT pg_advisory_xact_lock($1, $2)", *await writer_lock(url))
        with pytest.raises(Unavailable):
            await store.add_comment(new_comment("a"))
        await transaction.rollback()
        posted = await store.add_comment(new_comment("a"))
        assert posted.count == 1
    finally:
        await blocker.close()
        await store.close()


class Held:
    """A group-commit job that writes, then keeps its transaction open until released."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.written = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, tx: Tx) -> int:
        value = int(await scalar(tx, self.sql))
        self.written.set()
        await self.release.wait()
        return value


async def wait_held(first: Store, job: Held) -> asyncio.Future[int]:
    held = asyncio.ensure_future(first.writer.submit(job))
    await asyncio.wait_for(job.written.wait(), 5 * UNIT)
    return held


async def test_an_id_is_drawn_only_after_every_smaller_one_committed(
    stores: tuple[Store, Store],
) -> None:
    """Process A draws an id in article x and has not committed; process B's post to article
    y waits for A's commit and gets a larger id. (With only per-article row locks B would
    commit first, with the larger id, while A's smaller one is still to come: a reader that
    resumed after B's id would skip A's comment.)"""
    first, second = stores
    job = Held(
        "WITH counted AS (UPDATE articles SET count = count + 1 WHERE slug = 'x')"
        " INSERT INTO comments (article, author, avatar, body, created, token_hash)"
        f" VALUES ('x', 'A', 'ab', 'held', '{WHEN}', '') RETURNING id"
    )
    held = await wait_held(first, job)
    try:
        other = asyncio.ensure_future(second.add_comment(new_comment("y", "B")))
        await asyncio.sleep(0.5 * UNIT)
        assert not other.done(), "B committed while A's smaller id was still open"
    finally:
        job.release.set()  # else A's writer never finishes and the stores never close
    assert (await other).comment.id > await held


async def test_change_numbers_follow_commit_order_across_processes(
    stores: tuple[Store, Store],
) -> None:
    """Edits in two processes at once take distinct change numbers, in commit order (with
    `max(rev) + 1` and no writer lock both would take the same number)."""
    first, second = stores
    one = await first.add_comment(new_comment("x", "one"))
    two = await second.add_comment(new_comment("y", "two"))
    job = Held(
        "UPDATE comments SET rev = (SELECT coalesce(max(rev), 0) + 1 FROM comments WHERE rev > 0)"
        f" WHERE id = {one.comment.id} RETURNING rev"
    )
    held = await wait_held(first, job)
    try:
        edit = asyncio.ensure_future(
            second.edit_comment(two.comment.id, edit_text("two, edited"), WHEN)
        )
        await asyncio.sleep(0.5 * UNIT)
        assert not edit.done(), "B's edit committed while A's change was still open"
    finally:
        job.release.set()
    assert (await edit).rev == await held + 1


async def test_notify_link_takes_concurrent_publishes_on_one_connection(url: str) -> None:
    """The hub's pump and its beats publish at once: both arrive, on one sending connection
    (asyncpg refuses a second operation in progress; found by the race tests on the postgres
    hub, where a lost envelope then waited for the read-back)."""
    sender, listener = PgLink(url), PgLink(url)
    try:
        await listener.subscribe(["realtime:test"])
        big = b"x" * 20_000  # split into parts, sent in one transaction
        await asyncio.gather(
            *(sender.publish("realtime:test", big if n % 2 else b"%d" % n) for n in range(20))
        )
        received = []
        while len(received) < 20:
            message = await listener.receive(5 * UNIT)
            assert message is not None, f"only {len(received)} of 20 arrived"
            received.append(message[1])
        assert sorted(received) == sorted(big if n % 2 else b"%d" % n for n in range(20))
    finally:
        await sender.close()
        await listener.close()
