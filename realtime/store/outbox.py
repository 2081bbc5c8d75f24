"""SQL of the notification outbox: rows written with the change that causes them, then leased.

The writing side (`enqueue`, used by `notices`) runs inside the change's own transaction. The
sending side claims rows with a lease: one `UPDATE … WHERE id IN (due, unleased) AND
lease_until <= now RETURNING …` statement, so with several processes on one database each row is
taken by one of them, and a row whose sender died is taken again once its lease runs out (at
least once). The SQL is plain standard SQL with `?` placeholders (no SQLite-only functions).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from realtime.models import Notification
from realtime.store.audit import Note, record
from realtime.store.db import Backend, Row, Tx
from realtime.store.group_commit import GroupCommitWriter

Channel = Literal["mail", "webhook"]
_COLUMNS = "id, channel, event, target, payload, attempts"
INFO_COLUMNS = "id, channel, event, target, state, attempts, created, last_error"


class Outgoing(msgspec.Struct, frozen=True):
    """A notification to write: where it goes, what it says, and when it is first due."""

    channel: Channel
    event: str
    target: str
    payload: bytes
    due: float
    thread: str | None = None


class Claimed(msgspec.Struct, frozen=True):
    """A row leased to this process for one attempt (`attempts` counts this one)."""

    id: int
    channel: Channel
    event: str
    target: str
    payload: bytes
    attempts: int


async def enqueue(tx: Tx, item: Outgoing, now: float) -> None:
    await tx.run(
        "INSERT INTO outbox (channel, event, target, thread, payload, created, due)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (item.channel, item.event, item.target, item.thread, item.payload, now, item.due),
    )


async def claim(tx: Tx, now: float, lease_until: float, limit: int) -> list[Row]:
    # `lease_until <= ?` again outside the subquery: a database that re-checks the row after a
    # concurrent update (PostgreSQL) then skips a row another sender has just leased.
    return await tx.all(
        f"UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id IN ("
        "SELECT id FROM outbox WHERE state = 'pending' AND due <= ? AND lease_until <= ?"
        f" ORDER BY due, id LIMIT ?) AND lease_until <= ? RETURNING {_COLUMNS}",
        (lease_until, now, now, limit, now),
    )


class Outbox:
    """The sender's side of the outbox: claim, settle, list and retry (writes go through the
    group-commit writer, reads through the store's reader connections)."""

    def __init__(self, writer: GroupCommitWriter, backend: Backend) -> None:
        self._writer = writer
        self._backend = backend

    async def claim(self, now: float, lease_seconds: float, limit: int) -> list[Claimed]:
        async def work(tx: Tx) -> list[Claimed]:
            rows = await claim(tx, now, now + lease_seconds, limit)
            return sorted((Claimed(*row) for row in rows), key=lambda item: item.id)

        return await self._writer.submit(work)

    async def sent(self, row_id: int, now: float) -> None:
        await self._update(
            "UPDATE outbox SET state = 'sent', finished = ?, lease_until = 0, last_error = NULL"
            " WHERE id = ? AND state = 'pending'",
            (now, row_id),
        )

    async def retry_at(self, row_id: int, due: float, error: str) -> None:
        await self._update(
            "UPDATE outbox SET due = ?, lease_until = 0, last_error = ?"
            " WHERE id = ? AND state = 'pending'",
            (due, error, row_id),
        )

    async def dead(self, row_id: int, now: float, error: str) -> None:
        await self._update(
            "UPDATE outbox SET state = 'dead', finished = ?, lease_until = 0, last_error = ?"
            " WHERE id = ? AND state = 'pending'",
            (now, error, row_id),
        )

    async def release(self, row_ids: list[int]) -> None:
        """Hand back rows whose attempt was cut short (shutdown): due again at once."""
        for row_id in row_ids:
            await self._update("UPDATE outbox SET lease_until = 0 WHERE id = ?", (row_id,))

    async def revive(
        self, row_id: int, now: float, note: Note | None = None
    ) -> Notification | None:
        """A dead notification, pending again with a fresh count of attempts (admin's retry),
        with its audit row in the same transaction."""

        async def work(tx: Tx) -> Notification | None:
            rows = await tx.all(
                "UPDATE outbox SET state = 'pending', attempts = 0, due = ?, lease_until = 0,"
                f" finished = NULL WHERE id = ? AND state = 'dead' RETURNING {INFO_COLUMNS}",
                (now, row_id),
            )
            revived = next((notification(row) for row in rows), None)
            if revived is not None:
                detail = f"{revived.channel} {revived.event} notification {row_id}"
                await record(tx, note, detail=detail)
            return revived

        return await self._writer.submit(work)

    async def purge(self, before: float) -> None:
        """Forget delivered notifications (and the addresses in them) after a while."""
        await self._update("DELETE FROM outbox WHERE state = 'sent' AND finished < ?", (before,))

    async def next_due(self) -> float | None:
        """When the earliest pending row is due (or its lease ends); None when nothing waits."""
        row = await self._backend.reader().one(
            "SELECT min(CASE WHEN lease_until > due THEN lease_until ELSE due END)"
            " FROM outbox WHERE state = 'pending'"
        )
        value = row[0] if row else None
        return float(value) if value is not None else None

    async def listing(self, state: str, limit: int = 200) -> list[Notification]:
        rows = await self._backend.reader().all(
            f"SELECT {INFO_COLUMNS} FROM outbox WHERE state = ? ORDER BY id DESC LIMIT ?",
            (state, limit),
        )
        return [notification(row) for row in rows]

    async def _update(self, sql: str, params: tuple[Any, ...]) -> None:
        async def work(tx: Tx) -> None:
            await tx.run(sql, params)

        await self._writer.submit(work)


def notification(row: Any) -> Notification:
    """A row as the admin sees it: a mail's target (an address) is never shown."""
    row_id, channel, event, target, state, attempts, created, last_error = row
    return Notification(
        id=row_id,
        channel=channel,
        event=event,
        target=target if channel == "webhook" else None,
        state=state,
        attempts=attempts,
        created=iso(created),
        last_error=last_error,
    )


def iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
