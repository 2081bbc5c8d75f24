"""SQL of named moderators: a name and the SHA-256 of a token (never the token), revocable.

Each change (add, revoke) takes the next `rev`, so a server can notice a change made by another
process (the command line) by reading one indexed number.
"""

from __future__ import annotations

import msgspec

from realtime.errors import Conflict, NotFound
from realtime.models import ModeratorInfo
from realtime.store.audit import Note, record
from realtime.store.db import Backend, Tx, scalar
from realtime.store.group_commit import GroupCommitWriter

_NEXT_REV = "(SELECT coalesce(max(rev), 0) + 1 FROM moderators)"


class Credential(msgspec.Struct, frozen=True):
    """The moderator a token hash belongs to, revoked or not."""

    id: int
    name: str
    revoked: bool


class ModeratorStore:
    def __init__(self, backend: Backend, writer: GroupCommitWriter) -> None:
        self._backend = backend
        self._writer = writer

    async def add(self, name: str, token_hash: bytes, created: str, note: Note) -> ModeratorInfo:
        async def work(tx: Tx) -> ModeratorInfo:
            taken = await scalar(
                tx, "SELECT 1 FROM moderators WHERE name = ? AND revoked IS NULL", (name,)
            )
            if taken:
                raise Conflict(f"there is already a moderator called {name!r}", "name")
            row = await tx.one(
                "INSERT INTO moderators (name, token_hash, created, rev)"
                f" VALUES (?, ?, ?, {_NEXT_REV}) RETURNING id, name, created, revoked",
                (name, token_hash, created),
            )
            assert row is not None  # an INSERT … RETURNING returns its row
            await record(tx, note, detail=f"moderator {name} added")
            return ModeratorInfo(*row)

        return await self._writer.submit(work)

    async def revoke(self, name: str, revoked: str, note: Note) -> ModeratorInfo:
        async def work(tx: Tx) -> ModeratorInfo:
            row = await tx.one(
                f"UPDATE moderators SET revoked = ?, rev = {_NEXT_REV}"
                " WHERE name = ? AND revoked IS NULL RETURNING id, name, created, revoked",
                (revoked, name),
            )
            if row is None:
                raise NotFound(f"no moderator called {name!r}")
            await record(tx, note, detail=f"moderator {name} revoked")
            return ModeratorInfo(*row)

        return await self._writer.submit(work)

    async def all(self) -> list[ModeratorInfo]:
        rows = await self._backend.reader().all(
            "SELECT id, name, created, revoked FROM moderators ORDER BY revoked IS NOT NULL, name"
        )
        return [ModeratorInfo(*row) for row in rows]

    async def find(self, token_hash: bytes) -> Credential | None:
        row = await self._backend.reader().one(
            "SELECT id, name, revoked IS NOT NULL FROM moderators WHERE token_hash = ?",
            (token_hash,),
        )
        return Credential(row[0], row[1], bool(row[2])) if row else None

    async def active(self, moderator_id: int) -> bool:
        row = await self._backend.reader().one(
            "SELECT 1 FROM moderators WHERE id = ? AND revoked IS NULL", (moderator_id,)
        )
        return row is not None

    async def revision(self) -> int:
        """The newest change; cheap enough to poll every second."""
        return int(
            await scalar(self._backend.reader(), "SELECT coalesce(max(rev), 0) FROM moderators")
        )

    async def revoked_since(self, rev: int) -> list[int]:
        rows = await self._backend.reader().all(
            "SELECT id FROM moderators WHERE rev > ? AND revoked IS NOT NULL", (rev,)
        )
        return [int(row[0]) for row in rows]
