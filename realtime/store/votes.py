"""SQL of votes and pins: group-commit jobs, in the SQL every backend takes (see `db.py`).

A vote is one row per (comment, voter) with value 1 or -1; taking it back deletes the row. The
comment's `up`, `down` and `score` change in the same transaction, so they always equal the sum
of its votes, and `vote_seq` counts the changes: the newest state of a comment's score is the
one with the highest `vote_seq`, whichever process publishes it. A voter is stored only as a
keyed hash of the browser's token; it is never selected by anything that answers a request.
"""

from __future__ import annotations

import msgspec

from realtime.errors import Conflict, Forbidden, NotFound
from realtime.models import Comment
from realtime.store.db import Tx, scalar
from realtime.store.rows import COMMENT_COLUMNS, NEXT_REV, comment_from


class Tally(msgspec.Struct, frozen=True):
    """A comment's votes after a vote; `changed` is False when the vote was already so."""

    id: int
    article: str
    score: int
    up: int
    down: int
    seq: int
    changed: bool = True


class Pinned(msgspec.Struct, frozen=True):
    comment: Comment
    rev: int


async def vote(tx: Tx, comment_id: int, voter: bytes, value: int) -> Tally:
    """Set this voter's vote on the comment to `value` (1, -1, or 0 to take it back)."""
    row = await tx.one(
        "SELECT c.article, c.voter_hash, a.closed,"
        " (SELECT value FROM votes v WHERE v.comment = c.id AND v.voter = ?)"
        " FROM comments c JOIN articles a ON a.slug = c.article"
        " WHERE c.id = ? AND c.status = 'published'",
        (voter, comment_id),
    )
    if row is None:
        raise NotFound(f"no comment {comment_id}")
    article, own, closed, old = row
    if closed:
        raise Forbidden("this article is closed")
    if own is not None and bytes(own) == voter:
        raise Forbidden("you cannot vote on your own comment")
    old = int(old or 0)
    if old != value:
        await _record(tx, comment_id, voter, value)
    up = int(value == 1) - int(old == 1)
    down = int(value == -1) - int(old == -1)
    tally = await tx.one(
        "UPDATE comments SET up = up + ?, down = down + ?, score = score + ?,"
        " vote_seq = vote_seq + ? WHERE id = ? RETURNING score, up, down, vote_seq",
        (up, down, up - down, int(old != value), comment_id),
    )
    assert tally is not None  # read above, inside this transaction
    score, ups, downs, seq = tally
    return Tally(comment_id, article, score, ups, downs, seq, old != value)


async def _record(tx: Tx, comment_id: int, voter: bytes, value: int) -> None:
    if value == 0:
        await tx.run("DELETE FROM votes WHERE comment = ? AND voter = ?", (comment_id, voter))
        return
    await tx.run(
        "INSERT INTO votes (comment, voter, value) VALUES (?, ?, ?)"
        " ON CONFLICT (comment, voter) DO UPDATE SET value = excluded.value",
        (comment_id, voter, value),
    )


async def set_pinned(tx: Tx, comment_id: int, pinned: bool) -> Pinned:
    """Pin or unpin a top-level comment; it takes the next change number, so a reader that
    resumes with ?rev= is sent it again (as an edit) with its new `pinned`."""
    row = await tx.one(
        f"UPDATE comments SET pinned = ?, rev = ({NEXT_REV}) WHERE id = ?"
        f" AND status = 'published' AND parent IS NULL RETURNING {COMMENT_COLUMNS}, rev",
        (pinned, comment_id),
    )
    if row is not None:
        return Pinned(comment_from(row), int(row[-1]))
    reply = await scalar(
        tx, "SELECT 1 FROM comments WHERE id = ? AND status = 'published'", (comment_id,)
    )
    if reply is not None:
        raise Conflict("only top-level comments can be pinned", "id")
    raise NotFound(f"no comment {comment_id}")
