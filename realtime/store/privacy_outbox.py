"""SQL of a commenter's notifications (issue 11's subscribers and outbox), for `privacy`.

An address is in `subscribers.email` and in the `target` of the mail rows sent to it. Its
comments are also in the payloads of other rows: webhooks about them, moderator alerts about a
held one, and reply mails (digests) to other people that quote them. Every Comment and held
comment in a payload carries the author's avatar, a digest of the address, so a payload that
holds one contains those 32 hex digits: such rows are dropped, except a digest to someone else,
which loses only this person's replies (and is dropped if none are left).
"""

from __future__ import annotations

import msgspec

from realtime.models import Notification, StoredSubscription
from realtime.store.db import Tx
from realtime.store.notices import ReplyMail, decode_mail
from realtime.store.outbox import INFO_COLUMNS, iso, notification

_encode = msgspec.json.Encoder().encode


async def subscription(tx: Tx, email: str) -> StoredSubscription | None:
    row = await tx.one("SELECT state, asked FROM subscribers WHERE email = ?", (email,))
    return StoredSubscription(row[0], iso(row[1])) if row else None


async def notifications_to(tx: Tx, email: str) -> list[Notification]:
    """The mails to this address, whatever their state, oldest first."""
    rows = await tx.all(
        f"SELECT {INFO_COLUMNS} FROM outbox WHERE channel = 'mail' AND target = ? ORDER BY id",
        (email,),
    )
    return [notification(row) for row in rows]


async def drop(tx: Tx, email: str, avatar: str) -> tuple[int, int]:
    """Drop the address's subscription and every outbox row that holds it or its comments;
    returns (subscriptions, notifications) dropped or trimmed."""
    subscribers = await tx.all("DELETE FROM subscribers WHERE email = ? RETURNING id", (email,))
    mails = await tx.all(
        "DELETE FROM outbox WHERE channel = 'mail' AND target = ? RETURNING id", (email,)
    )
    mark = avatar.encode()
    changed = 0
    for row_id, channel, payload in await tx.all(
        "SELECT id, channel, payload FROM outbox ORDER BY id"
    ):
        if mark not in bytes(payload):
            continue
        changed += 1
        kept = _without_author(bytes(payload), avatar) if channel == "mail" else None
        if kept is None:
            await tx.run("DELETE FROM outbox WHERE id = ?", (row_id,))
        else:
            await tx.run("UPDATE outbox SET payload = ? WHERE id = ?", (kept, row_id))
    return len(subscribers), len(mails) + changed


def _without_author(payload: bytes, avatar: str) -> bytes | None:
    """A reply digest without this author's replies; None when nothing of it is left."""
    job = decode_mail(payload)
    if not isinstance(job, ReplyMail):
        return None  # a moderator alert about their held comment
    replies = [reply for reply in job.replies if reply.avatar != avatar]
    if not replies:
        return None
    return _encode(msgspec.structs.replace(job, replies=replies))
