"""SQL of bans: made from a comment (published or held), matched on every post, listed, lifted.

A ban holds keyed hashes (of the poster's network and of their e-mail) and, for moderators to
read, only the network's /24 or /64 prefix. Bans expire by themselves: every query compares
`expires` with the time it is given, so nothing has to run at the moment one ends. Each ban made
or lifted takes the next `rev`, so a server keeping the bans in force in memory knows when to
read them again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from realtime.errors import Conflict, NotFound
from realtime.models import Ban, BanIn, BanList
from realtime.store.audit import Note, record
from realtime.store.db import Backend, Tx, scalar
from realtime.store.group_commit import GroupCommitWriter

Source = Literal["comments", "pending"]
BAN_COLUMNS = (
    "id, address_prefix, email_key IS NOT NULL, author, comment, pending, reason, created,"
    " expires, moderator, lifted, lifted_by"
)
_ACTIVE = "lifted IS NULL AND (expires IS NULL OR expires > ?)"
_NEXT_REV = "(SELECT coalesce(max(rev), 0) + 1 FROM bans)"


class InForce(msgspec.Struct, frozen=True):
    """A ban in force as a post is checked against it: its keys and its end."""

    address_key: bytes | None
    email_key: bytes | None
    expires: str | None


def ban_from(row: Any, now: str) -> Ban:
    """A `bans` row (BAN_COLUMNS) as moderators see it, active or not at `now`."""
    ban_id, prefix, by_email, author, comment, pending, reason, created, expires, *rest = row
    moderator, lifted, lifted_by = rest
    active = lifted is None and (expires is None or expires > now)
    return Ban(
        ban_id,
        prefix,
        bool(by_email),
        author,
        comment,
        pending,
        reason,
        created,
        expires,
        moderator,
        lifted,
        lifted_by,
        active,
    )


class BanStore:
    def __init__(self, backend: Backend, writer: GroupCommitWriter) -> None:
        self._backend = backend
        self._writer = writer

    async def add(
        self,
        source: Source,
        source_id: int,
        data: BanIn,
        expires: str | None,
        email_key: Callable[[str], bytes],
        note: Note,
    ) -> Ban:
        """Ban the poster of comment (or held comment) `source_id`, on what it keeps of them."""

        async def work(tx: Tx) -> Ban:
            found = await tx.one(
                f"SELECT article, author, email, client_prefix, client_key FROM {source}"
                " WHERE id = ?",
                (source_id,),
            )
            if found is None:
                raise NotFound(f"no {'held ' if source == 'pending' else ''}comment {source_id}")
            article, author, email, prefix, client_key = found
            if data.on == "email":
                prefix = client_key = None
            key = email_key(email) if data.on != "network" and email else None
            if client_key is None and key is None:
                raise Conflict(_nothing_to_ban(data), "on")
            comment, pending = (source_id, None) if source == "comments" else (None, source_id)
            row = await tx.one(
                "INSERT INTO bans (address_key, address_prefix, email_key, author, comment,"
                " pending, reason, created, expires, moderator, rev)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {_NEXT_REV}) RETURNING {BAN_COLUMNS}",
                (client_key, prefix, key, author, comment, pending, data.reason, note.at)
                + (expires, note.actor),
            )
            assert row is not None  # an INSERT … RETURNING returns its row
            ban = ban_from(row, note.at)
            await record(
                tx, note, article=article, comment=comment, pending=pending, detail=_detail(ban)
            )
            return ban

        return await self._writer.submit(work)

    async def lift(self, ban_id: int, note: Note) -> Ban:
        async def work(tx: Tx) -> Ban:
            row = await tx.one(
                f"UPDATE bans SET lifted = ?, lifted_by = ?, rev = {_NEXT_REV}"
                f" WHERE id = ? AND {_ACTIVE}"
                f" RETURNING {BAN_COLUMNS}",
                (note.at, note.actor, ban_id, note.at),
            )
            if row is None:
                raise NotFound(f"no ban {ban_id} in force")
            ban = ban_from(row, note.at)
            await record(
                tx, note, comment=ban.comment, pending=ban.pending, detail=f"ban {ban_id} lifted"
            )
            return ban

        return await self._writer.submit(work)

    async def revision(self) -> int:
        """The newest ban made or lifted; cheap enough to poll every second."""
        return int(await scalar(self._backend.reader(), "SELECT coalesce(max(rev), 0) FROM bans"))

    async def in_force(self, now: str) -> list[InForce]:
        rows = await self._backend.reader().all(
            f"SELECT address_key, email_key, expires FROM bans WHERE {_ACTIVE}", (now,)
        )
        return [InForce(*row) for row in rows]

    async def search(
        self,
        now: str,
        *,
        text: str = "",
        email_key: bytes | None = None,
        everything: bool = False,
        before: int | None = None,
        limit: int = 100,
    ) -> BanList:
        """Newest first: those in force, or `everything`; `text` searches the author, the
        reason and the prefix; `email_key` finds the bans on one e-mail."""
        where = ["id < ?"]
        params: list[Any] = [before if before is not None else 2**63 - 1]
        if not everything:
            where.append(_ACTIVE)
            params.append(now)
        if text or email_key is not None:
            pattern = "%" + _escape_like(text.lower()) + "%"
            where.append(
                "(lower(author) LIKE ? ESCAPE '\\' OR lower(reason) LIKE ? ESCAPE '\\'"
                " OR address_prefix LIKE ? ESCAPE '\\' OR email_key = ?)"
            )
            params += [pattern, pattern, pattern, email_key]
        rows = await self._backend.reader().all(
            f"SELECT {BAN_COLUMNS} FROM bans WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit + 1),
        )
        bans = [ban_from(row, now) for row in rows[:limit]]
        return BanList(bans, bans[-1].id if len(rows) > limit else None)

    async def erase_networks(self, cutoff: str) -> int:
        """Erase the network kept with comments posted before `cutoff`; returns how many."""

        async def work(tx: Tx) -> int:
            erased = 0
            for table in ("comments", "pending"):
                rows = await tx.all(
                    f"UPDATE {table} SET client_prefix = NULL, client_key = NULL"
                    " WHERE client_key IS NOT NULL AND created < ? RETURNING id",
                    (cutoff,),
                )
                erased += len(rows)
            return erased

        return await self._writer.submit(work)


def _nothing_to_ban(data: BanIn) -> str:
    wanted = {"network": "network", "email": "e-mail", "both": "network or e-mail"}[data.on]
    return f"this comment no longer keeps a {wanted} of its poster to ban"


def _detail(ban: Ban) -> str:
    on = [part for part in (ban.address, "e-mail" if ban.email else None) if part]
    until = f"until {ban.expires}" if ban.expires else "for good"
    return f"ban {ban.id} on {' and '.join(on)} {until}: {ban.reason}"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
