"""Moderation rules: which comments are held, and what approving, rejecting and closing publish.

Held comments are not counted, listed or broadcast to readers; moderators see them on the `admin`
topic (`/ws/admin`) as they arrive. Approval publishes a held comment like a new one, with the
next public id, so readers' resume points stay valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import msgspec

from realtime.config import Settings
from realtime.live.hub import Hub, Message
from realtime.models import (
    Article,
    ClosedEvent,
    Comment,
    PendingComment,
    PendingEvent,
    PinEvent,
    ResolvedEvent,
)
from realtime.moderators import Actor, WordRules
from realtime.store import NewComment, Posted, Store
from realtime.store.votes import Pinned
from realtime.topics import ADMIN_TOPIC, article_topic

Outcome = Literal["approved", "rejected"]
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_encode = msgspec.json.Encoder().encode


def count_links(text: str) -> int:
    return len(_LINK.findall(text))


class Moderation:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        hub: Hub,
        publish_posted: Callable[[Posted], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self._publish_posted = publish_posted
        self.clock = clock
        self.words = WordRules(settings.hold_words, settings.refuse_words)

    async def hold_reason(self, new: NewComment, honeypot: str | None) -> str | None:
        """Why this comment must wait for a moderator, or None to publish it now."""
        if honeypot:
            return "honeypot field filled in"
        for text in (new.author, new.body):
            word = self.words.hold.find(text)
            if word is not None:
                return f"contains “{word}” (hold_words)"
        if count_links(new.body) > self.settings.max_links:
            return f"more than {self.settings.max_links} links"
        if self.settings.moderation == "all":
            return "every comment is moderated"
        if self.settings.moderation == "first" and not await self.store.has_approved(
            new.email, new.author
        ):
            return "first comment from this author"
        return None

    async def hold(self, new: NewComment, reason: str) -> PendingComment:
        return await self.store.hold_comment(new, reason, on_commit=self._announce_held)

    async def pending(self, slug: str | None) -> list[PendingComment]:
        return await self.store.pending(slug)

    async def approve(self, pending_id: int, actor: Actor) -> Comment:
        def published(posted: Posted) -> None:
            self._publish_posted(posted)
            self._announce_resolved(pending_id, "approved")

        note = actor.note("approve", self.clock())
        posted = await self.store.approve(pending_id, on_commit=published, note=note)
        return posted.comment

    async def reject(self, pending_id: int, actor: Actor) -> None:
        await self.store.reject(
            pending_id,
            on_commit=lambda _: self.dropped(pending_id),
            note=actor.note("reject", self.clock()),
        )

    async def set_closed(self, slug: str, closed: bool, actor: Actor) -> Article:
        def announce(article: Article) -> None:
            event = _encode(ClosedEvent(article=article.slug, closed=article.closed))
            self.hub.publish(f"article:{article.slug}", Message.of(event))

        note = actor.note("close" if closed else "reopen", self.clock())
        return await self.store.set_closed(slug, closed, on_commit=announce, note=note)

    def dropped(self, pending_id: int) -> None:
        """Tell moderators a held comment left the queue without being published."""
        self._announce_resolved(pending_id, "rejected")

    async def set_pinned(self, comment_id: int, pinned: bool, actor: Actor) -> Comment:
        """Pin a top-level comment to the top of its thread for everyone, or unpin it."""

        def announce(done: Pinned) -> None:
            event = _encode(PinEvent(id=done.comment.id, pinned=pinned, rev=done.rev))
            self.hub.publish(article_topic(done.comment.article), Message.of(event, rev=done.rev))

        note = actor.note("pin" if pinned else "unpin", self.clock())
        done = await self.store.set_pinned(comment_id, pinned, on_commit=announce, note=note)
        return done.comment

    def _announce_held(self, held: PendingComment) -> None:
        self.hub.publish(ADMIN_TOPIC, Message.of(_encode(PendingEvent(comment=held))))

    def _announce_resolved(self, pending_id: int, outcome: Outcome) -> None:
        event = ResolvedEvent(id=pending_id, outcome=outcome)
        self.hub.publish(ADMIN_TOPIC, Message.of(_encode(event)))
