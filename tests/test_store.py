"""The store on a real SQLite file and a real PostgreSQL database: migrations, group commit,
counts, isolation of failures. The tests marked `both` run on each store."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from realtime.errors import Conflict, NotFound, Unavailable
from realtime.formatting import render
from realtime.models import ArticleIn
from realtime.store import MIGRATIONS, NewComment, Posted, Store
from realtime.store.sqlite import SqliteBackend
from tests.conftest import STORES
from tests.cutting import cut_short, sqlite_workers, sqlite_workers_back_to

both = pytest.mark.parametrize("store_kind", STORES)


def edit_text(body: str) -> tuple[str, str, str]:
    """What `Store.edit_comment` takes: the body, its html and its format."""
    return body, render(body, "text"), "text"


def new_comment(slug: str, body: str = "text", parent: int | None = None) -> NewComment:
    return NewComment(
        article=slug,
        parent=parent,
        author="Kari",
        email="kari@example.org",
        avatar="ab",
        body=body,
        created="2026-11-26T00:00:00.000Z",
        token_hash=b"\x00" * 32,
        html=render(body, "text"),
        format="text",
    )


@pytest.fixture
async def store(new_db: Callable[[], str]) -> AsyncIterator[Store]:
    opened = await Store.open(new_db())
    await opened.put_article("a", ArticleIn(title="A"), "2026-11-26T00:00:00.000Z")
    yield opened
    await opened.close()


async def test_migrates_an_empty_file(tmp_path: Path) -> None:
    """A new file gets every migration, WAL and the index on (article, id)."""
    path = tmp_path / "fresh.sqlite"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = [row[1] for row in conn.execute("PRAGMA index_list(comments)")]
        assert "comments_article_id" in indexes
    reopened = await Store.open(path)  # idempotent: nothing to apply the second time
    await reopened.close()


@both
async def test_count_kept_with_the_insert(store: Store) -> None:
    """Each insert and delete moves the article's count in the same transaction."""
    first = await store.add_comment(new_comment("a"))
    second = await store.add_comment(new_comment("a", parent=first.comment.id))
    assert (first.count, second.count) == (1, 2)
    assert second.comment.parent == first.comment.id
    removed = await store.delete_comment(first.comment.id)
    assert removed.count == 1
    article = await store.get_article("a")
    assert article is not None and article.count == 1
    assert [c.id for c in await store.comments_after("a", 0, 10)] == [second.comment.id]


@both
async def test_comments_read_back_carry_the_count_up_to_them(store: Store) -> None:
    """What a process reads back for a live event it missed: each comment with its article's
    count up to it (a late one with the count now would make the count step back after it)."""
    await store.put_article("b", ArticleIn(title="B"), "2026-11-26T00:00:00.000Z")
    posted = [await store.add_comment(new_comment(slug)) for slug in "abaab"]
    await store.delete_comment(posted[0].comment.id)
    expected = [(p.comment.id, p.count - (p.comment.article == "a")) for p in posted[1:]]
    for upto in range(1, len(expected) + 1):  # with and without comments past the range
        first, last = posted[0].comment.id, expected[upto - 1][0]
        read = [(p.comment.id, p.count) for p in await store.published_between(first, last)]
        assert read == expected[:upto]


@both
async def test_group_commit_batches_concurrent_writes(store: Store) -> None:
    """100 concurrent posts commit in far fewer transactions, ids in publish order."""
    published: list[int] = []
    before = store.writer.stats.transactions

    def on_commit(posted: Posted) -> None:
        published.append(posted.comment.id)

    results = await asyncio.gather(
        *(store.add_comment(new_comment("a", f"n{n}"), on_commit) for n in range(100))
    )
    assert store.writer.stats.transactions - before < 100
    assert published == sorted(published) == sorted(r.comment.id for r in results)
    assert sorted(r.count for r in results) == list(range(1, 101))


@both
async def test_one_failing_job_does_not_sink_its_group(store: Store) -> None:
    """A bad parent fails alone; the other comments in the same group commit."""
    other = await store.put_article("b", ArticleIn(title="B"), "2026-11-26T00:00:00.000Z")
    assert other[1] is True
    foreign = await store.add_comment(new_comment("b"))
    outcomes = await asyncio.gather(
        store.add_comment(new_comment("a", "ok 1")),
        store.add_comment(new_comment("a", "bad", parent=foreign.comment.id)),
        store.add_comment(new_comment("nope")),
        store.add_comment(new_comment("a", "ok 2")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], Conflict) and isinstance(outcomes[2], NotFound)
    assert [c.body for c in await store.comments_after("a", 0, 10)] == ["ok 1", "ok 2"]
    article = await store.get_article("a")
    assert article is not None and article.count == 2


async def test_locked_database_is_unavailable_then_recovers(tmp_path: Path) -> None:
    """While another connection holds the write lock past the busy timeout, writes get 503."""
    path = tmp_path / "locked.sqlite"
    store = await Store.open(path, busy_timeout_ms=50)
    try:
        await store.put_article("a", ArticleIn(title="A"), "2026-11-26T00:00:00.000Z")
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(Unavailable):
                await store.add_comment(new_comment("a"))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        posted = await store.add_comment(new_comment("a"))
        assert posted.count == 1
        assert [c.body for c in await store.comments_after("a", 0, 10)] == ["text"]
    finally:
        await store.close()


@both
async def test_the_backend_knows_whether_a_transaction_changed_a_row(store: Store) -> None:
    """What the writer asks while writes fail: a transaction that changed no row commits even
    on a read-only disk, so only one that changed a row shows that writes work again."""
    backend = store.backend
    tx = await backend.begin()
    try:
        assert not await backend.wrote(tx)
        await tx.run("UPDATE meta SET value = 'y' WHERE key = 'no such key'")
        assert not await backend.wrote(tx)
        await tx.run("INSERT INTO meta (key, value) VALUES ('wrote', 'yes')")
        assert await backend.wrote(tx)
    finally:
        await backend.rollback(tx)


@both
async def test_unexpected_error_rolls_back_and_writer_goes_on(store: Store) -> None:
    """A job failing with an error that is no `AppError` (an id past the integer range) leaves
    no open transaction behind: the next write commits."""
    with pytest.raises(Unavailable):
        await store.add_comment(new_comment("a", parent=2**63))
    posted = await store.add_comment(new_comment("a", "after"))
    assert posted.count == 1


async def test_sqlite_url_names_the_same_file(tmp_path: Path) -> None:
    """`sqlite:PATH` and a plain path open the same database."""
    path = tmp_path / "named.sqlite"
    store = await Store.open(f"sqlite:{path}")
    await store.put_article("a", ArticleIn(title="A"), "2026-11-26T00:00:00.000Z")
    await store.close()
    reopened = await Store.open(path)
    try:
        assert (await reopened.get_article("a")) is not None
    finally:
        await reopened.close()


async def test_opening_cut_short_at_any_point_leaves_no_connection_open(tmp_path: Path) -> None:
    """A server stopped during start-up (cancelled after 0, 1, 2 … loop turns of opening the
    SQLite store): every connection it had opened is closed, so no aiosqlite thread outlives the
    event loop or keeps the process from exiting, and the database is free again."""
    db = tmp_path / "db.sqlite"
    before = sqlite_workers()
    for turns in range(60):
        opened = await cut_short(SqliteBackend.open(db), turns)
        if opened is not None:  # it finished first: close it as a server would
            await opened.close()
        await sqlite_workers_back_to(before)
    with sqlite3.connect(db, timeout=0) as conn:
        conn.execute("BEGIN EXCLUSIVE")
