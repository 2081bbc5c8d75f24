"""Whole-database copies: online backup, export as records, import of records.

- `backup(source, target)`: on SQLite, its online backup API, one consistent snapshot even while
  the server commits; written beside the target, checked, then renamed into place. On PostgreSQL,
  `pg_dump` of the deployment's schema (see `postgres.dump`).
- `export_records(store)`: every article, comment and held comment (the moderation queue) as
  `Record`s, read in one snapshot through the backend (either database).
- `import_records(store, records)`: all of them in one writer job, so all or nothing. Ids are
  kept, and must lie above every id the database has ever given out (readers resume with
  `after=ID`, so an id below that would never reach them); articles that already exist are
  kept as they are. With `renumber=True` (a WordPress import) the ids in the records only tie
  replies to parents, the database gives new ones, and comments already present (same article,
  author, time and text) are skipped, so the same file can be imported twice.
Afterwards every touched article's `count` is recounted from its published comments.

Export and import go through the Store, so they work on both databases, and an export from one
imports into the other: ids, counts and change numbers come across as they were.

A comment's `html` is derived from its body and `format`, so it is not exported: an import makes
it again with `render` (realtime.formatting). Votes travel as counts (`up`, `down`); who voted
(a keyed hash of a browser's token) never leaves the database, so after a move a voter could
vote once more on an imported comment.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import aiosqlite
import msgspec

from realtime.errors import Conflict, Invalid, Unavailable
from realtime.models import CommentId, Slug
from realtime.store.core import Store
from realtime.store.db import Backend, Tx, is_postgres_url, scalar
from realtime.store.sqlite import closed_if_cancelled, connect, sqlite_path

FORMAT_VERSION = 1
EXPORT_PAGE = 1000  # rows per read: an export of any size holds a bounded number in memory
# Imported comments have no author token: only the admin can edit or delete them.
NO_TOKEN = b""

Status = Literal["published", "pending", "deleted", "rejected"]
Format = Literal["markdown", "text"]
Render = Callable[[str, str], str]  # (body, format) -> the sanitized HTML


class _Line(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    """One line of an export: `{"type": ..., ...}`."""


class Header(_Line, tag="realtime-export"):
    """The first line of an export: what the rest of the file is."""

    version: int = FORMAT_VERSION


class ArticleRecord(_Line, tag="article"):
    slug: Slug
    title: str
    url: str | None
    created: str
    count: int = 0  # informational: an import recounts it from the comments
    closed: bool = False


class CommentRecord(_Line, tag="comment"):
    id: CommentId
    article: Slug
    parent: CommentId | None
    author: str
    email: str | None  # private: exported for the operator's own use, never shown
    avatar: str
    body: str
    created: str
    edited: str | None
    status: Status
    rev: int = 0  # the change number of its last edit or deletion (0: never changed)
    format: Format = "text"  # how its body is shown (exports before formatting: text)
    up: int = 0
    down: int = 0
    pinned: bool = False
    notify: bool = False  # its author asked for an e-mail on replies


class PendingRecord(_Line, tag="pending"):
    """A comment held for moderation; its id is the queue's, its parent a published comment."""

    id: CommentId
    article: Slug
    parent: CommentId | None
    author: str
    email: str | None
    avatar: str
    body: str
    created: str
    reason: str
    format: Format = "text"
    notify: bool = False


Record = Header | ArticleRecord | CommentRecord | PendingRecord
AnyComment = CommentRecord | PendingRecord

_ARTICLE_COLUMNS = ", ".join(ArticleRecord.__struct_fields__)
_COMMENT_COLUMNS = ", ".join(CommentRecord.__struct_fields__)
_PENDING_COLUMNS = ", ".join(PendingRecord.__struct_fields__)


class ImportSummary(msgspec.Struct):
    articles_created: int = 0
    comments: int = 0
    pending: int = 0
    skipped: int = 0


# ---- backup ----------------------------------------------------------------------------------


async def backup(source: str | Path, target: str | Path, *, busy_timeout_ms: int = 5000) -> int:
    """Copy the live database to `target` (replaced atomically); return its comment count."""
    if is_postgres_url(source):
        from realtime.store.postgres import dump  # pg_dump: the database's own tool

        return await dump(str(source), Path(target))
    source, target = sqlite_path(source), Path(target)
    if target.resolve() == source.resolve():
        raise Invalid("the backup must go to another file than the database", "file")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = await connect(source, busy_timeout_ms)
    try:
        dst = await closed_if_cancelled(aiosqlite.connect(str(partial), isolation_level=None))
        try:
            await src.backup(dst)  # all pages in one step: one snapshot, never a torn copy
            await dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            comments = await _check_copy(dst)
        finally:
            await dst.close()
        _fsync(partial)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if _no_room(exc):
            raise Unavailable(f"no room for the copy at {target} ({exc}); it is as it was") from exc
        raise
    finally:
        await src.close()
    os.replace(partial, target)
    return comments


def _no_room(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return bool(getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


async def _check_copy(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA integrity_check") as cursor:
        verdict = await cursor.fetchone()
    if verdict is None or verdict[0] != "ok":
        raise Invalid(f"the backup copy failed its integrity check: {verdict}", "file")
    async with conn.execute("SELECT count(*) FROM comments") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


# ---- export ----------------------------------------------------------------------------------


async def export_records(store: Store) -> AsyncIterator[Record]:
    """Header, articles by slug, comments by id, then held comments: one read snapshot."""
    async with store.backend.snapshot() as tx:
        yield Header()
        for row in await tx.all(f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY slug"):
            yield _article(row)
        async for row in _pages(tx, "comments", _COMMENT_COLUMNS):
            yield _comment(row)
        async for row in _pages(tx, "pending", _PENDING_COLUMNS):
            yield _flagged(PendingRecord(*row))


async def _pages(tx: Tx, table: str, columns: str) -> AsyncIterator[Any]:
    """Every row of `table` in id order, EXPORT_PAGE at a time."""
    after = 0
    while True:
        rows = await tx.all(
            f"SELECT {columns} FROM {table} WHERE id > ? ORDER BY id LIMIT ?", (after, EXPORT_PAGE)
        )
        for row in rows:
            yield row
        if len(rows) < EXPORT_PAGE:
            return
        after = rows[-1][0]


def _comment(row: Any) -> CommentRecord:
    record = CommentRecord(*row)  # SQLite gives back booleans as 0 or 1
    return msgspec.structs.replace(record, pinned=bool(record.pinned), notify=bool(record.notify))


def _article(row: Any) -> ArticleRecord:
    slug, title, url, created, count, closed = row
    return ArticleRecord(slug, title, url, created, count, bool(closed))  # SQLite: 0 or 1


# ---- import ----------------------------------------------------------------------------------


async def import_records(
    store: Store, records: Iterable[Record], render: Render, *, renumber: bool = False
) -> ImportSummary:
    """Write every record in one transaction, or raise an `AppError` and write nothing."""
    records = list(records)
    articles = [record for record in records if isinstance(record, ArticleRecord)]

    backend = store.backend

    async def work(tx: Tx) -> ImportSummary:
        summary = ImportSummary()
        try:
            summary.articles_created, slugs = await _insert_articles(tx, articles, renumber)
            placed = [_placed(r, slugs) for r in records if isinstance(r, AnyComment)]
            comments = [r for r in placed if isinstance(r, CommentRecord)]
            pending = [r for r in placed if isinstance(r, PendingRecord)]
            if renumber:
                summary.comments, summary.pending, summary.skipped = await _insert_renumbered(
                    tx, (comments, pending), render
                )
            else:
                _check_parents(comments, pending)
                summary.comments = await _insert_keeping_ids(
                    backend, tx, "comments", comments, render
                )
                summary.pending = await _insert_keeping_ids(backend, tx, "pending", pending, render)
        except backend.integrity as exc:
            raise Conflict(f"the records do not fit the database: {exc}") from None
        await _recount(tx, {comment.article for comment in comments})
        return summary

    return await store.writer.submit(work)


async def _insert_articles(
    tx: Tx, articles: list[ArticleRecord], by_url: bool
) -> tuple[int, dict[str, str]]:
    """Create the articles that are not there yet; with `by_url`, an article with the same url
    counts as there. Returns how many were created and the slug each record's slug maps to."""
    created = 0
    slugs: dict[str, str] = {}
    for article in articles:
        found = None
        if by_url and article.url:
            found = await scalar(tx, "SELECT slug FROM articles WHERE url = ?", (article.url,))
        if found is None:
            found = article.slug
            inserted = await tx.one(
                "INSERT INTO articles (slug, title, url, created, closed) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (slug) DO NOTHING RETURNING slug",
                (article.slug, article.title, article.url, article.created, article.closed),
            )
            created += inserted is not None
        slugs[article.slug] = found
    return created, slugs


def _placed(record: AnyComment, slugs: dict[str, str]) -> AnyComment:
    article = slugs.get(record.article, record.article)
    if article == record.article:
        return record
    return msgspec.structs.replace(record, article=article)


def _check_parents(comments: list[CommentRecord], pending: list[PendingRecord]) -> None:
    """Each parent is an earlier comment of the same article in the records."""
    articles: dict[int, str] = {}
    records: list[AnyComment] = [*comments, *pending]
    for record in records:
        if record.parent is not None and articles.get(record.parent) != record.article:
            raise Conflict(
                f"{record.id}: parent {record.parent} is not an earlier comment of the same"
                " article (nothing was imported)"
            )
        if isinstance(record, CommentRecord):
            articles[record.id] = record.article


async def _insert_keeping_ids(
    backend: Backend,
    tx: Tx,
    table: Literal["comments", "pending"],
    records: Sequence[AnyComment],
    render: Render,
) -> int:
    if not records:
        return 0
    highest = await backend.highest_id(tx, table)
    lowest = min(record.id for record in records)
    if lowest <= highest:
        raise Conflict(
            f"{table} id {lowest} is not above the database's highest id {highest}:"
            " import into a fresh database (nothing was imported)"
        )
    await tx.run_many(
        _insert(table, type(records[0]).__struct_fields__),
        [(*msgspec.structs.astuple(record), *_derived(record, render)) for record in records],
    )
    await backend.ids_taken(tx, table, max(record.id for record in records))
    return len(records)


async def _insert_renumbered(
    tx: Tx, records: tuple[list[CommentRecord], list[PendingRecord]], render: Render
) -> tuple[int, int, int]:
    """Insert in the records' id order with new ids; parents follow. A parent the records lack,
    or in another article, is dropped: the reply stands on its own. Returns how many comments
    and held comments were added, and how many were there already."""
    new_ids: dict[int, int] = {}
    articles: dict[int, str] = {}
    added = {"comments": 0, "pending": 0}
    skipped = 0
    comments, pending = records
    ordered: list[AnyComment] = [*sorted(comments, key=_id), *sorted(pending, key=_id)]
    for record in ordered:
        table: Literal["comments", "pending"] = (
            "comments" if isinstance(record, CommentRecord) else "pending"
        )
        parent = None
        if record.parent is not None and articles.get(record.parent) == record.article:
            parent = new_ids.get(record.parent)
        existing = await scalar(
            tx,
            f"SELECT id FROM {table} WHERE article = ? AND author = ? AND created = ? AND body = ?",
            (record.article, record.author, record.created, record.body),
        )
        if existing is None:
            values = msgspec.structs.astuple(msgspec.structs.replace(record, parent=parent))
            fields = type(record).__struct_fields__[1:]  # without the id
            existing = await scalar(
                tx,
                _insert(table, fields) + " RETURNING id",
                (*values[1:], *_derived(record, render)),
            )
            added[table] += 1
        else:
            skipped += 1
        if table == "comments":
            new_ids[record.id], articles[record.id] = existing, record.article
    return added["comments"], added["pending"], skipped


def _id(record: AnyComment) -> int:
    return record.id


def _derived(record: AnyComment, render: Render) -> tuple[bytes, str]:
    """The columns an import adds to a record's own: no author token, the HTML made again."""
    return NO_TOKEN, render(record.body, record.format)


def _flagged(record: AnyComment) -> AnyComment:
    """`notify` as a boolean: SQLite gives back 0 or 1."""
    return msgspec.structs.replace(record, notify=bool(record.notify))


def _insert(table: str, fields: tuple[str, ...]) -> str:
    marks = ", ".join("?" * (len(fields) + 2))
    return f"INSERT INTO {table} ({', '.join(fields)}, token_hash, html) VALUES ({marks})"


async def _recount(tx: Tx, slugs: set[str]) -> None:
    await tx.run_many(
        "UPDATE articles SET count = (SELECT count(*) FROM comments"
        " WHERE comments.article = articles.slug AND status = 'published') WHERE slug = ?",
        [(slug,) for slug in sorted(slugs)],
    )
    await tx.run_many(  # the score is derived from the counts
        "UPDATE comments SET score = up - down WHERE article = ? AND score <> up - down",
        [(slug,) for slug in sorted(slugs)],
    )
