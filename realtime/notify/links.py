"""What the signed links in mails do: confirm an address, unsubscribe it, approve or reject a
held comment. They work without a login or the admin token: the signature is the permission
(the audit trail names the actor of an approval or rejection "mail-link").
A forged or expired link is refused (403) before anything is read or changed."""

from __future__ import annotations

import time
from typing import Literal

from realtime.errors import Forbidden, NotFound
from realtime.models import Comment, PendingComment
from realtime.moderation import Moderation
from realtime.moderators import MAIL_LINK_ACTOR
from realtime.notify.signing import verify_link
from realtime.store import Store

Purpose = Literal["confirm", "unsubscribe", "approve", "reject"]
PURPOSES: tuple[Purpose, ...] = ("confirm", "unsubscribe", "approve", "reject")


class Links:
    def __init__(self, store: Store, moderation: Moderation) -> None:
        self.store = store
        self.moderation = moderation

    def check(self, purpose: Purpose, token: str) -> int:
        """The id the token was made for, or Forbidden."""
        return verify_link(self.store.notify_key, purpose, token, time.time())

    async def confirm(self, token: str) -> None:
        if not await self.store.set_subscription(self.check("confirm", token), "confirmed"):
            raise Forbidden("this address has unsubscribed; ask for notifications again")

    async def unsubscribe(self, token: str) -> None:
        if not await self.store.set_subscription(self.check("unsubscribe", token), "unsubscribed"):
            raise NotFound("no such subscription")

    async def held(self, purpose: Purpose, token: str) -> PendingComment:
        """The held comment an approve or reject link is for (to show before acting)."""
        pending_id = self.check(purpose, token)
        found = [comment for comment in await self.store.pending() if comment.id == pending_id]
        if not found:
            raise NotFound("this comment is no longer waiting for a moderator")
        return found[0]

    async def approve(self, token: str) -> Comment:
        return await self.moderation.approve(self.check("approve", token), MAIL_LINK_ACTOR)

    async def reject(self, token: str) -> None:
        await self.moderation.reject(self.check("reject", token), MAIL_LINK_ACTOR)
