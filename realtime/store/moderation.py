"""SQL of the moderation queue: held comments, approval into the public thread, closing articles.

Each function is a group-commit job (it runs inside the writer's transaction).
"""

from __future__ import annotations

from typing import Any

import aiosqlite
import msgspec

from realtime.errors import Conflict, Forbidden, NotFound
from realtime.models import Article, Comment, PendingComment

PENDING_COLUMNS = "id, article, parent, author, avatar, body, created, reason"
# The columns of a new comment, in the order of `NewComment`'s fields.
NEW_COLUMNS = "article, parent, author, email, avatar, body, created, token_hash, notify"
ARTICLE_COLUMNS = "slug, title, url, created, count, closed"


def article_from(row: Any) -> Article:
    """An `articles` row (ARTICLE_COLUMNS) as the public Struct; SQLite has no booleans."""
    slug, title, url, created, count, closed = row
    return Article(slug, title, url, created, count, bool(closed))


async def fetch_one(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> Any:
    """The first row, or None. `execute_fetchall` is one trip to the connection's thread where
    execute, fetchone and close are three: it matters on the writer, where every trip counts."""
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def check_parent(conn: aiosqlite.Connection, parent: int, article: str) -> None:
    row = await fetch_one(
        conn, "SELECT article FROM comments WHERE id = ? AND status = 'published'", (parent,)
    )
    if row is None:
        raise Conflict(f"parent comment {parent} does not exist", "parent")
    if row[0] != article:
        raise Conflict(f"parent comment {parent} belongs to another article", "parent")


async def check_open(conn: aiosqlite.Connection, slug: str) -> None:
    row = await fetch_one(conn, "SELECT closed FROM articles WHERE slug = ?", (slug,))
    if row is None:
        raise NotFound(f"no article {slug!r}")
    if row[0]:
        raise Forbidden("this article is closed to new comments")


async def hold(conn: aiosqlite.Connection, new: Any, reason: str) -> PendingComment:
    """Store a comment in the moderation queue: not counted, not listed, not broadcast."""
    await check_open(conn, new.article)
    if new.parent is not None:
        await check_parent(conn, new.parent, new.article)
    row = await fetch_one(
        conn,
        f"INSERT INTO pending ({NEW_COLUMNS}, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {PENDING_COLUMNS}",
        (*msgspec.structs.astuple(new), reason),
    )
    return PendingComment(*row)


async def approve(
    conn: aiosqlite.Connection, pending_id: int
) -> tuple[Comment, int, tuple[str | None, bool]]:
    """Move a held comment into the thread; it gets the next public id. Returns it, the count,
    and its e-mail with whether its author asked for replies (for the outbox, never shown)."""
    row = await fetch_one(
        conn,
        f"INSERT INTO comments ({NEW_COLUMNS}) SELECT {NEW_COLUMNS} FROM pending"
        " WHERE id = ? RETURNING id, article, parent, author, avatar, body, created, edited,"
        " email, notify",
        (pending_id,),
    )
    if row is None:
        raise NotFound(f"no held comment {pending_id}")
    await conn.execute("DELETE FROM pending WHERE id = ?", (pending_id,))
    count = await fetch_one(
        conn, "UPDATE articles SET count = count + 1 WHERE slug = ? RETURNING count", (row[1],)
    )
    *public, email, notify = row
    return Comment(*public), int(count[0]), (email, bool(notify))


async def reject(conn: aiosqlite.Connection, pending_id: int) -> None:
    row = await fetch_one(conn, "DELETE FROM pending WHERE id = ? RETURNING id", (pending_id,))
    if row is None:
        raise NotFound(f"no held comment {pending_id}")


async def set_closed(conn: aiosqlite.Connection, slug: str, closed: bool) -> Article:
    row = await fetch_one(
        conn,
        f"UPDATE articles SET closed = ? WHERE slug = ? RETURNING {ARTICLE_COLUMNS}",
        (int(closed), slug),
    )
    if row is None:
        raise NotFound(f"no article {slug!r}")
    return article_from(row)
