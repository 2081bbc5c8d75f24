"""Notifications: reply e-mails, moderator alerts and webhooks, from a durable outbox.

- `store.notices` / `store.outbox` (the store layer): the rows each change writes in its own
  transaction, and the leased claiming of them.
- `notifier`: the rules from the settings, and delivering a claimed row.
- `sender`: the background loop (concurrency, timeouts, backoff, dead rows).
- `mail`: mails built with the standard `email` package; `channels`: SMTP and webhook POSTs;
  `signing`: link tokens and webhook signatures; `links`: what the signed links do.
"""

from __future__ import annotations

from realtime.notify.links import PURPOSES, Links, Purpose
from realtime.notify.notifier import Notifier, rules_from

__all__ = ["PURPOSES", "Links", "Notifier", "Purpose", "rules_from"]
