"""SQL of a commenter's data: find everything stored about one e-mail address, or forget it.

A commenter is found by their e-mail (published and held comments keep it) and by their avatar,
which is derived from the e-mail: a deleted comment has lost its e-mail but kept its author and
avatar, and forgetting must reach it too. Bans are found by the keyed hash of the e-mail and by
the comments they were made from.

Forgetting is one writer job: each published comment is anonymised in place (author "deleted",
no e-mail, avatar or network, no author token) and takes the next change number, so readers get
an `edit` (text kept) or a `delete` (text removed, the count goes down); held comments are
dropped; bans keep their hashes (they still keep the spammer out) but lose the author's name;
the address's subscription and every notification that holds it or its comments are dropped
(`privacy_outbox`), and webhooks hear of each change as of any other edit or deletion.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from realtime.models import CommenterData, StoredComment, StoredHeld
from realtime.store import notices, privacy_outbox
from realtime.store.audit import Note, record
from realtime.store.bans import BAN_COLUMNS, ban_from
from realtime.store.db import Backend, Tx, scalar
from realtime.store.group_commit import GroupCommitWriter, OnCommit
from realtime.store.notices import Rules
from realtime.store.results import COMMENT_COLUMNS, NEXT_REV, Edited, Removed
from realtime.store.rows import comment_from

DELETED_AUTHOR = "deleted"
DELETED_AVATAR = "0" * 32  # nobody's: avatars are hex digests of an e-mail or a name
NO_TOKEN = b""  # the author token no longer edits or deletes the comment
_MINE = "(email = ? OR avatar = ?)"
# A comment as its author's copy of their data has it (`StoredComment`): the text, not the html.
_STORED_COLUMNS = "id, article, parent, author, avatar, body, created, edited"
_ANONYMOUS = (
    f"author = '{DELETED_AUTHOR}', email = NULL, avatar = '{DELETED_AVATAR}',"
    " client_prefix = NULL, client_key = NULL, token_hash = ?"
)
# Bans on the e-mail, or made from one of the person's comments (an address-only ban).
_THEIR_BANS = (
    f"email_key = ? OR comment IN (SELECT id FROM comments WHERE {_MINE})"
    f" OR pending IN (SELECT id FROM pending WHERE {_MINE})"
)


class Commenter(msgspec.Struct, frozen=True):
    """One person as the database knows them: the e-mail and what is derived from it."""

    email: str
    avatar: str
    email_key: bytes


class Forgetting(msgspec.Struct, frozen=True):
    """What forgetting changed, for the service to publish after the commit."""

    edited: list[Edited]
    removed: list[Removed]
    pending: list[int]
    bans: int
    subscriptions: int = 0
    notifications: int = 0


class PrivacyStore:
    def __init__(
        self, backend: Backend, writer: GroupCommitWriter, rules: Callable[[], Rules]
    ) -> None:
        self._backend = backend
        self._writer = writer
        self._rules = rules  # the store's, set by the notifier after the store opens

    async def forget(
        self,
        who: Commenter,
        keep_text: bool,
        note: Note,
        on_commit: OnCommit[Forgetting] | None = None,
    ) -> Forgetting:
        async def work(tx: Tx) -> Forgetting:
            mine = (who.email, who.avatar)
            bans = await tx.all(
                f"UPDATE bans SET author = '{DELETED_AUTHOR}' WHERE {_THEIR_BANS} RETURNING id",
                (who.email_key, *mine, *mine),
            )
            ids = await tx.all(
                f"SELECT id FROM comments WHERE status = 'published' AND {_MINE} ORDER BY id", mine
            )
            edited: list[Edited] = []
            removed: list[Removed] = []
            for (comment_id,) in ids:
                if keep_text:
                    edited.append(await _anonymise(tx, comment_id, note.at))
                else:
                    removed.append(await _withdraw(tx, comment_id))
            await tx.run(
                f"UPDATE comments SET {_ANONYMOUS}, body = '', html = ''"
                f" WHERE status <> 'published' AND {_MINE}",
                (NO_TOKEN, *mine),
            )
            held = await tx.all(f"DELETE FROM pending WHERE {_MINE} RETURNING id", mine)
            pending = [int(row[0]) for row in held]
            subscriptions, notifications = await privacy_outbox.drop(tx, who.email, who.avatar)
            await self._tell_webhooks(tx, edited, removed)
            changed = len(edited) + len(removed)
            detail = f"{changed} comments anonymised, {len(pending)} held ones dropped"
            await record(tx, note, detail=detail + (" (text kept)" if keep_text else ""))
            return Forgetting(edited, removed, pending, len(bans), subscriptions, notifications)

        return await self._writer.submit(work, on_commit)

    async def _tell_webhooks(self, tx: Tx, edited: list[Edited], removed: list[Removed]) -> None:
        rules, now = self._rules(), time.time()
        for change in edited:
            await notices.edited(tx, rules, change.comment, change.rev, now)
        for gone in removed:
            await notices.deleted(tx, rules, (gone.article, gone.id, gone.count, gone.rev), now)

    async def export(self, who: Commenter, now: str) -> CommenterData:
        """Read in the writer's transaction: one consistent picture of the person."""

        async def work(tx: Tx) -> CommenterData:
            mine = (who.email, who.avatar)
            comments = await tx.all(
                f"SELECT {_STORED_COLUMNS}, status, client_prefix FROM comments WHERE {_MINE}"
                " ORDER BY id",
                mine,
            )
            held = await tx.all(
                "SELECT id, article, parent, author, avatar, body, created, reason,"
                f" client_prefix FROM pending WHERE {_MINE} ORDER BY id",
                mine,
            )
            bans = await tx.all(
                f"SELECT {BAN_COLUMNS} FROM bans WHERE {_THEIR_BANS} ORDER BY id",
                (who.email_key, *mine, *mine),
            )
            return CommenterData(
                who.email,
                now,
                [StoredComment(*row) for row in comments],
                [StoredHeld(*row) for row in held],
                [ban_from(row, now) for row in bans],
                await privacy_outbox.subscription(tx, who.email),
                await privacy_outbox.notifications_to(tx, who.email),
            )

        return await self._writer.submit(work)


async def _anonymise(tx: Tx, comment_id: int, at: str) -> Edited:
    row = await tx.one(
        f"UPDATE comments SET {_ANONYMOUS}, edited = ?, rev = ({NEXT_REV}) WHERE id = ?"
        f" RETURNING {COMMENT_COLUMNS}, rev",
        (NO_TOKEN, at, comment_id),
    )
    assert row is not None  # read in this transaction
    return Edited(comment_from(row), int(row[-1]))


async def _withdraw(tx: Tx, comment_id: int) -> Removed:
    row = await tx.one(
        f"UPDATE comments SET {_ANONYMOUS}, status = 'deleted', body = '', html = '',"
        f" rev = ({NEXT_REV})"
        " WHERE id = ? RETURNING article, rev",
        (NO_TOKEN, comment_id),
    )
    assert row is not None  # read in this transaction
    article, rev = row
    count = await scalar(
        tx, "UPDATE articles SET count = count - 1 WHERE slug = ? RETURNING count", (article,)
    )
    return Removed(comment_id, article, int(count), int(rev))
