"""SQL of the moderation queue: held comments, approval into the public thread, closing articles.

Each function is a group-commit job (it runs inside the writer's transaction), in SQL that every
backend takes (see `db.py`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from realtime.errors import Conflict, Forbidden, NotFound
from realtime.models import Article, Comment, PendingComment
from realtime.store.db import Tx
from realtime.store.rows import ARTICLE_COLUMNS, COMMENT_COLUMNS, article_from, comment_from

PENDING_COLUMNS = "id, article, parent, author, avatar, body, created, reason"
# The columns of a new comment, in the order of `NewComment`'s fields.
NEW_COLUMNS = (
    "article, parent, author, email, avatar, body, created, token_hash, html, format, voter_hash,"
    " client_prefix, client_key, notify"
)
NEW_MARKS = ", ".join("?" * len(NEW_COLUMNS.split(",")))


async def check_parent(tx: Tx, parent: int, article: str) -> None:
    row = await tx.one(
        "SELECT article FROM comments WHERE id = ? AND status = 'published'", (parent,)
    )
    if row is None:
        raise Conflict(f"parent comment {parent} does not exist", "parent")
    if row[0] != article:
        raise Conflict(f"parent comment {parent} belongs to another article", "parent")


async def check_open(tx: Tx, slug: str) -> None:
    row = await tx.one("SELECT closed FROM articles WHERE slug = ?", (slug,))
    if row is None:
        raise NotFound(f"no article {slug!r}")
    if row[0]:
        raise Forbidden("this article is closed to new comments")


async def hold(tx: Tx, new: Any, reason: str) -> PendingComment:
    """Store a comment in the moderation queue: not counted, not listed, not broadcast."""
    await check_open(tx, new.article)
    if new.parent is not None:
        await check_parent(tx, new.parent, new.article)
    row = await tx.one(
        f"INSERT INTO pending ({NEW_COLUMNS}, reason) VALUES ({NEW_MARKS}, ?)"
        f" RETURNING {PENDING_COLUMNS}",
        (*msgspec.structs.astuple(new), reason),
    )
    assert row is not None  # an INSERT … RETURNING returns its row
    return PendingComment(*row)


async def approve(tx: Tx, pending_id: int) -> tuple[Comment, int, tuple[str | None, bool]]:
    """Move a held comment into the thread; it gets the next public id. Returns it, the count,
    and its e-mail with whether its author asked for replies (for the outbox, never shown).

    The article's row is updated before the id is drawn, as for a new comment: with several
    writers, the row lock orders the article's ids by commit."""
    held = await tx.one("SELECT article FROM pending WHERE id = ?", (pending_id,))
    if held is None:
        raise NotFound(f"no held comment {pending_id}")
    count = await tx.one(
        "UPDATE articles SET count = count + 1 WHERE slug = ? RETURNING count", (held[0],)
    )
    assert count is not None  # the pending row's article exists (foreign key)
    row = await tx.one(
        f"INSERT INTO comments ({NEW_COLUMNS}) SELECT {NEW_COLUMNS} FROM pending"
        f" WHERE id = ? RETURNING {COMMENT_COLUMNS}, email, notify",
        (pending_id,),
    )
    assert row is not None  # read above, inside this transaction
    await tx.run("DELETE FROM pending WHERE id = ?", (pending_id,))
    *_, email, notify = row
    return comment_from(row), int(count[0]), (email, bool(notify))


async def reject(tx: Tx, pending_id: int) -> str:
    """Drop a held comment; returns its article."""
    row = await tx.one("DELETE FROM pending WHERE id = ? RETURNING article", (pending_id,))
    if row is None:
        raise NotFound(f"no held comment {pending_id}")
    return str(row[0])


async def set_closed(tx: Tx, slug: str, closed: bool) -> Article:
    row = await tx.one(
        f"UPDATE articles SET closed = ? WHERE slug = ? RETURNING {ARTICLE_COLUMNS}",
        (closed, slug),
    )
    if row is None:
        raise NotFound(f"no article {slug!r}")
    return article_from(row)
