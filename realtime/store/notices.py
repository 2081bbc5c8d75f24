"""What each change writes to the outbox, inside the change's own transaction.

A published comment (posted or approved) is announced to the webhooks that want
`comment.published`, asks a new address to confirm when its author ticked "notify me", and
mails the parent's author when they asked for replies and confirmed their address (never for
their own replies). A reply mail waits `digest_seconds` after the previous one to that address
and thread, and replies that arrive meanwhile join it (one digest); an address gets at most
`daily_cap` mails a day. A held comment alerts the moderators. Edits, deletions and closing an
article go to the webhooks only. `Rules` (from the settings) says who gets what; an empty one
writes nothing. Mail rows hold a small `MailJob`; the sender renders and signs it.
"""

from __future__ import annotations

import msgspec

from realtime.models import (
    ArticleClosedHook,
    Comment,
    CommentDeletedHook,
    CommentEditedHook,
    CommentHeldHook,
    CommentPublishedHook,
    PendingComment,
    WebhookEvent,
)
from realtime.store.db import Tx, scalar
from realtime.store.outbox import Outgoing, enqueue

DAY = 86400.0
_encode = msgspec.json.Encoder().encode


class Hook(msgspec.Struct, frozen=True):
    url: str
    events: frozenset[str]


class Rules(msgspec.Struct, frozen=True, kw_only=True):
    hooks: tuple[Hook, ...] = ()
    mail: bool = False
    moderators: tuple[str, ...] = ()
    digest_seconds: float = 300.0
    daily_cap: int = 20


# ---- mail jobs: what a mail row holds (the address is the row's target) ----------------------


class MailJob(msgspec.Struct, frozen=True, tag_field="kind"):
    pass


class ConfirmMail(MailJob, frozen=True, tag="confirm"):
    subscriber: int


class ReplyMail(MailJob, frozen=True, tag="reply"):
    subscriber: int
    article: str
    title: str
    replies: list[Comment]


class ModeratorMail(MailJob, frozen=True, tag="moderator"):
    title: str
    comment: PendingComment


AnyMail = ConfirmMail | ReplyMail | ModeratorMail
decode_mail = msgspec.json.Decoder(AnyMail).decode


# ---- the changes -----------------------------------------------------------------------------


async def published(
    tx: Tx,
    rules: Rules,
    posted: tuple[Comment, int],
    sender: tuple[str | None, bool],
    now: float,
) -> None:
    """A comment entered the thread (`posted`: it and the count; `sender`: its e-mail and
    whether its author asked for replies)."""
    comment, count = posted
    await webhook(tx, rules, CommentPublishedHook(comment.article, comment, count), now)
    if not rules.mail:
        return
    email, notify = sender
    if email is not None and notify:
        await ask_to_confirm(tx, rules, email, now)
    if comment.parent is not None:
        await reply_mail(tx, rules, comment, email, now)


async def held(tx: Tx, rules: Rules, comment: PendingComment, now: float) -> None:
    await webhook(tx, rules, CommentHeldHook(comment.article, comment), now)
    if not rules.mail or not rules.moderators:
        return
    job = _encode(ModeratorMail(await _title(tx, comment.article), comment))
    for address in rules.moderators:
        await enqueue(tx, Outgoing("mail", "moderator", address, job, now), now)


async def edited(tx: Tx, rules: Rules, comment: Comment, rev: int, now: float) -> None:
    await webhook(tx, rules, CommentEditedHook(comment.article, comment, rev), now)


async def deleted(tx: Tx, rules: Rules, removed: tuple[str, int, int, int], now: float) -> None:
    """`removed`: article, comment id, the new count and the change number."""
    article, comment_id, count, rev = removed
    await webhook(tx, rules, CommentDeletedHook(article, comment_id, count, rev), now)


async def closed(tx: Tx, rules: Rules, article: str, now: float) -> None:
    await webhook(tx, rules, ArticleClosedHook(article, True), now)


async def webhook(tx: Tx, rules: Rules, body: WebhookEvent, now: float) -> None:
    event = body.__struct_config__.tag
    assert isinstance(event, str)
    wanted = [hook for hook in rules.hooks if event in hook.events]
    if not wanted:
        return
    payload = _encode(body)  # once, the same bytes for every endpoint
    for hook in wanted:
        await enqueue(tx, Outgoing("webhook", event, hook.url, payload, now), now)


# ---- reply mails and subscriptions -----------------------------------------------------------


async def ask_to_confirm(tx: Tx, rules: Rules, email: str, now: float) -> None:
    """A confirmation mail for an address not confirmed yet, at most one a day."""
    row = await tx.one("SELECT id, state, asked FROM subscribers WHERE email = ?", (email,))
    if row is None:
        subscriber = await scalar(
            tx,
            "INSERT INTO subscribers (email, state, asked) VALUES (?, 'unconfirmed', ?)"
            " RETURNING id",
            (email, now),
        )
    elif row[1] == "confirmed" or row[2] > now - DAY:
        return
    else:
        subscriber = row[0]
        await tx.run(
            "UPDATE subscribers SET state = 'unconfirmed', asked = ? WHERE id = ?", (now, row[0])
        )
    if await _under_cap(tx, rules, email, now):
        job = _encode(ConfirmMail(int(subscriber)))
        await enqueue(tx, Outgoing("mail", "confirm", email, job, now), now)


async def reply_mail(tx: Tx, rules: Rules, reply: Comment, sender: str | None, now: float) -> None:
    row = await tx.one(
        "SELECT s.id, s.email FROM comments c JOIN subscribers s ON s.email = c.email"
        " WHERE c.id = ? AND c.notify AND c.status = 'published' AND s.state = 'confirmed'",
        (reply.parent,),
    )
    if row is None or row[1] == sender:
        return
    subscriber, email = int(row[0]), str(row[1])
    if await _join_digest(tx, email, reply, now):
        return
    if not await _under_cap(tx, rules, email, now):
        return
    last = await tx.one(
        "SELECT max(due) FROM outbox WHERE channel = 'mail' AND event = 'reply'"
        " AND target = ? AND thread = ?",
        (email, reply.article),
    )
    due = max(now, last[0] + rules.digest_seconds) if last and last[0] is not None else now
    job = _encode(ReplyMail(subscriber, reply.article, await _title(tx, reply.article), [reply]))
    await enqueue(tx, Outgoing("mail", "reply", email, job, due, reply.article), now)


async def _join_digest(tx: Tx, email: str, reply: Comment, now: float) -> bool:
    """Add the reply to a mail for this address and thread that has not been tried yet."""
    row = await tx.one(
        "SELECT id, payload FROM outbox WHERE channel = 'mail' AND event = 'reply'"
        " AND target = ? AND thread = ? AND state = 'pending' AND attempts = 0"
        " AND lease_until <= ? ORDER BY id DESC LIMIT 1",
        (email, reply.article, now),
    )
    if row is None:
        return False
    job = decode_mail(row[1])
    assert isinstance(job, ReplyMail)
    grown = msgspec.structs.replace(job, replies=[*job.replies, reply])
    await tx.run("UPDATE outbox SET payload = ? WHERE id = ?", (_encode(grown), row[0]))
    return True


async def _under_cap(tx: Tx, rules: Rules, email: str, now: float) -> bool:
    row = await tx.one(
        "SELECT count(*) FROM outbox WHERE channel = 'mail' AND target = ? AND created > ?",
        (email, now - DAY),
    )
    return row is None or int(row[0]) < rules.daily_cap


async def _title(tx: Tx, slug: str) -> str:
    row = await tx.one("SELECT title FROM articles WHERE slug = ?", (slug,))
    return str(row[0]) if row else slug


async def set_subscription(tx: Tx, subscriber_id: int, state: str) -> bool:
    """`confirmed` (not once unsubscribed: an old confirmation link does not undo that) or
    `unsubscribed` (always). False when no such address can take that state."""
    guard = " AND state <> 'unsubscribed'" if state == "confirmed" else ""
    row = await tx.one(
        f"UPDATE subscribers SET state = ? WHERE id = ?{guard} RETURNING id",
        (state, subscriber_id),
    )
    return row is not None
