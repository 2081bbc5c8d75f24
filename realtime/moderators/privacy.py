"""A commenter's data: everything stored about an e-mail address, and forgetting it.

Forgetting anonymises every comment of the address in one transaction (see
`realtime.store.privacy`), publishes each change to the readers who have the thread open (an
`edit` when the text is kept, a `delete` with the new count when it is not), tells moderators the
held comments are gone, drops the address's subscription and the notifications that hold it or
its comments (webhooks hear of each change as usual), and then has the backend scrub its files
(SQLite: fold the WAL into the database and truncate it; `secure_delete` has already zeroed the
old bytes), so the address is in no byte of the database or its WAL. Backups taken before keep
it until they rotate out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from realtime.models import CommenterData, ForgetIn, Forgotten, timestamp
from realtime.moderators.actors import Actor
from realtime.moderators.bans import Bans
from realtime.store import Edited, Removed, Store
from realtime.store.privacy import Commenter, Forgetting

log = logging.getLogger("realtime.moderators")


class Publishers:
    """How the service tells readers and moderators about a change, after its commit."""

    def __init__(
        self,
        edited: Callable[[Edited], None],
        removed: Callable[[Removed], None],
        dropped: Callable[[int], None],
    ) -> None:
        self.edited = edited
        self.removed = removed
        self.dropped = dropped


class Privacy:
    def __init__(
        self,
        store: Store,
        bans: Bans,
        avatar: Callable[[str], str],
        clock: Callable[[], datetime],
        publish: Publishers,
    ) -> None:
        self.store = store
        self.bans = bans
        self.avatar = avatar
        self.clock = clock
        self.publish = publish

    def commenter(self, email: str) -> Commenter:
        address = email.strip().lower()
        return Commenter(address, self.avatar(address), self.bans.email_key(address))

    async def forget(self, request: ForgetIn, actor: Actor) -> Forgotten:
        note = actor.note("forget", self.clock())
        done = await self.store.privacy.forget(
            self.commenter(request.email), request.keep_text, note, on_commit=self._announce
        )
        self.store.on_outbox()  # webhooks about the changes
        if not await self.store.backend.scrub():
            log.warning(
                "forget: a reader kept the WAL from being truncated; the next checkpoint will"
            )
        log.info(
            "forgot a commenter: %d comments anonymised, %d held ones dropped",
            len(done.edited) + len(done.removed),
            len(done.pending),
        )
        changed = len(done.edited) + len(done.removed)
        return Forgotten(
            changed, len(done.pending), done.bans, done.subscriptions, done.notifications
        )

    async def export(self, email: str) -> CommenterData:
        return await self.store.privacy.export(self.commenter(email), timestamp(self.clock()))

    def _announce(self, done: Forgetting) -> None:
        for edited in done.edited:
            self.publish.edited(edited)
        for removed in done.removed:
            self.publish.removed(removed)
        for pending_id in done.pending:
            self.publish.dropped(pending_id)
