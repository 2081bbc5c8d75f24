"""The notifier: what the service owns. It tells the store what to write to the outbox (the
rules, from the settings), and runs the sender that renders, signs and delivers each row."""

from __future__ import annotations

import time

import httpx

from realtime.config import Settings, Webhook
from realtime.errors import NotFound
from realtime.models import Notification
from realtime.notify.channels import DeliveryError, post_webhook, send_mail
from realtime.notify.mail import Composer
from realtime.notify.sender import Sender
from realtime.store import Store
from realtime.store.audit import Note
from realtime.store.notices import Hook, Rules, decode_mail
from realtime.store.outbox import Claimed


def rules_from(settings: Settings) -> Rules:
    return Rules(
        hooks=tuple(Hook(hook.url, frozenset(hook.events)) for hook in settings.webhooks),
        mail=bool(settings.smtp_host),
        moderators=tuple(settings.moderator_emails),
        digest_seconds=settings.reply_digest_seconds,
        daily_cap=settings.mails_per_address_per_day,
    )


class Notifier:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        store.rules = rules_from(settings)
        self.composer = Composer(settings, store.notify_key)
        self.hooks: dict[str, Webhook] = {hook.url: hook for hook in settings.webhooks}
        self.sender = Sender(settings, store, self.deliver)
        self.stats = self.sender.stats
        self._http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        # Redirects are not followed: the receiver is the configured URL, nothing else.
        self._http = httpx.AsyncClient(timeout=self.settings.notify_timeout_seconds)
        self.store.on_outbox = self.sender.kick
        self.sender.start()

    async def stop(self) -> None:
        self.store.on_outbox = lambda: None
        await self.sender.stop()
        if self._http is not None:
            await self._http.aclose()

    def delivery_key(self, row_id: int) -> str:
        """The idempotency key: the same for every attempt, unique across databases."""
        return f"{self.store.delivery_prefix}-{row_id}"

    async def deliver(self, item: Claimed) -> None:
        key = self.delivery_key(item.id)
        if item.channel == "mail":
            message = self.composer.compose(decode_mail(item.payload), item.target, key)
            await send_mail(self.settings, message, self.settings.notify_timeout_seconds)
            return
        hook = self.hooks.get(item.target)
        if hook is None or item.event not in hook.events:
            raise DeliveryError("this webhook is no longer configured for this event")
        assert self._http is not None, "the notifier is not started"
        await post_webhook(self._http, hook, item.event, item.payload, key)

    # ---- for the admin ---------------------------------------------------------------------

    async def dead(self) -> list[Notification]:
        """Notifications that gave up, newest first, with their last error (no addresses)."""
        return await self.store.outbox.listing("dead")

    async def retry(self, row_id: int, note: Note) -> Notification:
        """A dead notification sent again; `note` is the audit row's who and when."""
        revived = await self.store.outbox.revive(row_id, time.time(), note)
        if revived is None:
            raise NotFound(f"no dead notification {row_id}")
        self.sender.kick()
        return revived
