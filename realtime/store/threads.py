"""SQL of sorted threads, recent comments and the HTML of comments stored before formatting.

A sorted page is a page of threads. A thread's root is a published comment whose parent is null
or no longer published (removed); the thread is the root and all its published replies, at any
depth, in id order. Roots are ordered by `sort` (oldest: id; newest: id descending; top: score
descending, then id) and paged by a key (score, id) in either direction; replies never count
towards `limit` and never leave their root. Pinned roots come first, all of them, on the first
page only (the one read without a key); every other page holds only unpinned roots.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from realtime.models import Comment
from realtime.store.db import Tx
from realtime.store.rows import COMMENT_COLUMNS, comment_from

Sort = Literal["oldest", "newest", "top"]
SORTS: tuple[Sort, ...] = ("oldest", "newest", "top")

_ROOT = (
    "article = ? AND status = 'published' AND NOT EXISTS"
    " (SELECT 1 FROM comments p WHERE p.id = comments.parent AND p.status = 'published')"
)
_REPLIES = (
    "WITH RECURSIVE thread(id) AS ("
    " SELECT id FROM comments WHERE parent IN ({marks}) AND status = 'published'"
    " UNION ALL SELECT c.id FROM comments c JOIN thread t ON c.parent = t.id"
    " WHERE c.status = 'published')"
    f" SELECT {COMMENT_COLUMNS} FROM comments WHERE id IN (SELECT id FROM thread) ORDER BY id"
)


class Key(msgspec.Struct, frozen=True, array_like=True):
    """Where a page starts or ends: a root's score and id."""

    score: int
    id: int


def key_of(comment: Comment) -> Key:
    return Key(comment.score, comment.id)


def _order(sort: Sort, backward: bool) -> str:
    if sort == "top":
        return "score, id DESC" if backward else "score DESC, id"
    ascending = (sort == "oldest") != backward
    return "id" if ascending else "id DESC"


def _beyond(sort: Sort, key: Key, backward: bool) -> tuple[str, tuple[int, ...]]:
    """The roots that come after `key` in this order (before it, when `backward`)."""
    if sort == "top":
        score, tie = (">", "<") if backward else ("<", ">")
        return f"(score {score} ? OR (score = ? AND id {tie} ?))", (key.score, key.score, key.id)
    ascending = (sort == "oldest") != backward
    return f"id {'>' if ascending else '<'} ?", (key.id,)


async def pinned_roots(tx: Tx, slug: str, sort: Sort) -> list[Comment]:
    order = _order(sort, False)
    rows = await tx.all(
        f"SELECT {COMMENT_COLUMNS} FROM comments WHERE {_ROOT} AND pinned AND parent IS NULL"
        f" ORDER BY {order}",
        (slug,),
    )
    return [comment_from(row) for row in rows]


async def roots(
    tx: Tx, slug: str, sort: Sort, key: Key | None, backward: bool, limit: int
) -> list[Comment]:
    """Up to `limit` unpinned roots after `key` (before it, when `backward`), in `sort` order."""
    params: tuple[object, ...] = (slug,)
    where = f"{_ROOT} AND NOT pinned"
    if key is not None:
        condition, values = _beyond(sort, key, backward)
        where, params = f"{where} AND {condition}", (*params, *values)
    rows = await tx.all(
        f"SELECT {COMMENT_COLUMNS} FROM comments WHERE {where}"
        f" ORDER BY {_order(sort, backward)} LIMIT ?",
        (*params, limit),
    )
    found = [comment_from(row) for row in rows]
    return found[::-1] if backward else found


async def with_replies(tx: Tx, tops: list[Comment]) -> list[Comment]:
    """Each root followed by its thread's replies, in id order."""
    if not tops:
        return []
    marks = ", ".join("?" * len(tops))
    rows = await tx.all(_REPLIES.format(marks=marks), tuple(top.id for top in tops))
    root_of = {top.id: top.id for top in tops}
    threads: dict[int, list[Comment]] = {top.id: [top] for top in tops}
    for reply in map(comment_from, rows):
        assert reply.parent is not None  # a reply, by the query
        root = root_of[reply.parent]  # replies come in id order: the parent came first
        root_of[reply.id] = root
        threads[root].append(reply)
    return [comment for top in tops for comment in threads[top.id]]


async def recent(tx: Tx, limit: int, slug: str | None = None) -> list[Comment]:
    """The newest published comments, newest first (of one article, or of the whole site)."""
    params: tuple[object, ...] = ()
    where = "status = 'published'"
    if slug is not None:
        where, params = f"article = ? AND {where}", (slug,)
    rows = await tx.all(
        f"SELECT {COMMENT_COLUMNS} FROM comments WHERE {where} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )
    return [comment_from(row) for row in rows]


async def html_missing(
    tx: Tx, table: Literal["comments", "pending"], limit: int
) -> list[tuple[int, str, str]]:
    """(id, body, format) of comments (or held ones) stored before their HTML was made."""
    rows = await tx.all(
        f"SELECT id, body, format FROM {table} WHERE html IS NULL ORDER BY id LIMIT ?", (limit,)
    )
    return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]
