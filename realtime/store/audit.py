"""SQL of the audit trail: one row per moderation action, written inside the action's own
transaction (a job of the group-commit writer), so an action is never without its row and a row
never without its action."""

from __future__ import annotations

import msgspec

from realtime.models import AuditEntry, AuditPage
from realtime.store.db import Tx

_COLUMNS = "id, at, actor, action, article, comment, pending, detail"


class Note(msgspec.Struct, frozen=True, kw_only=True):
    """Who does what, and when: the service makes one per action; the store adds on what."""

    actor: str  # a moderator's name, "owner" (the admin token) or "cli"
    moderator: int | None  # the moderator's id; None for the owner and the command line
    action: str
    at: str
    detail: str = ""


async def record(
    tx: Tx,
    note: Note | None,
    *,
    article: str | None = None,
    comment: int | None = None,
    pending: int | None = None,
    detail: str | None = None,
) -> None:
    """Write the audit row of an action (nothing when the action was not a moderator's)."""
    if note is None:
        return
    await tx.run(
        "INSERT INTO audit (at, actor, moderator, action, article, comment, pending, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            note.at,
            note.actor,
            note.moderator,
            note.action,
            article,
            comment,
            pending,
            note.detail if detail is None else detail,
        ),
    )


async def page(tx: Tx, before: int | None, limit: int) -> AuditPage:
    """Newest first; `before` is the id the page starts below (None: the newest)."""
    rows = await tx.all(
        f"SELECT {_COLUMNS} FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
        (before if before is not None else 2**63 - 1, limit + 1),
    )
    entries = [AuditEntry(*row) for row in rows[:limit]]
    return AuditPage(entries, entries[-1].id if len(rows) > limit else None)
