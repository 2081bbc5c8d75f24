"""The sender: delivers the outbox in the background, at least once, never in a poster's way.

Policy, in order:
- Rows are claimed with a lease (`Outbox.claim`) of twice the attempt timeout: one process sends
  each row at a time, and a row whose process died is sent again after its lease (at least once;
  receivers drop repeats by the `X-Realtime-Delivery` key, `<database prefix>-<row id>`).
- At most `notify_concurrency` attempts run at once, each cut off after
  `notify_timeout_seconds`. A failure is retried after `notify_backoff_seconds * 2^(n-1)` (up to
  `notify_backoff_max_seconds`), times a jitter between 0.5 and 1 so that many failures do not
  retry in step; after `notify_max_attempts` the row is dead until an admin retries it.
- The loop wakes when this process wrote to the outbox (`kick`), when a row is due, and every
  `notify_poll_seconds` (rows written by other processes; a cheap read, no write).
- Posting never waits for any of this: the POST's transaction only inserts rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from realtime.config import Settings
from realtime.store import Store
from realtime.store.outbox import Claimed

log = logging.getLogger("realtime.notify")
PURGE_EVERY = 3600.0
KEEP_SENT = 2 * 86400.0  # delivered rows are kept as long as the daily cap looks back, and a day
_PART = r"[^\s@<>(),;:\"']+"
_ADDRESS = re.compile(rf"{_PART}@{_PART}\.{_PART}")
# Delivers one claimed row, or raises saying why not.
Deliver = Callable[[Claimed], Awaitable[None]]


class Stats:
    """Attempts by outcome (`sent`, `retried`, `dead`), channel and event, for /metrics."""

    def __init__(self) -> None:
        self.outcomes: Counter[tuple[str, str, str]] = Counter()

    def count(self, outcome: str, item: Claimed) -> None:
        self.outcomes[(outcome, item.channel, item.event)] += 1


class Sender:
    def __init__(self, settings: Settings, store: Store, deliver: Deliver) -> None:
        self.settings = settings
        self.store = store
        self.deliver = deliver
        self.stats = Stats()
        self._kick = asyncio.Event()
        self._running: dict[asyncio.Task[None], int] = {}
        self._task: asyncio.Task[None] | None = None
        self._purged = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notify-sender")

    def kick(self) -> None:
        """Something was written to the outbox, or a slot came free: look now."""
        self._kick.set()

    async def stop(self) -> None:
        """Stop claiming; cut short the attempts under way and hand their rows back."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        cut = list(self._running.values())
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        if cut:
            await self.store.outbox.release(cut)

    async def _run(self) -> None:
        while True:
            try:
                await self._wait()
                await self._fill()
                await self._purge()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database was busy or closing: try again on the next round
                log.exception("notification sender round failed")
                await asyncio.sleep(self.settings.notify_poll_seconds)

    async def _wait(self) -> None:
        poll = self.settings.notify_poll_seconds
        delay = poll
        if len(self._running) < self.settings.notify_concurrency:
            due = await self.store.outbox.next_due()
            if due is not None:
                delay = min(poll, max(0.0, due - time.time()))
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), delay)
        self._kick.clear()

    async def _fill(self) -> None:
        free = self.settings.notify_concurrency - len(self._running)
        if free <= 0:
            return
        lease = 2 * self.settings.notify_timeout_seconds
        for item in await self.store.outbox.claim(time.time(), lease, free):
            task = asyncio.create_task(self._attempt(item), name=f"notify-{item.id}")
            self._running[task] = item.id
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self.kick()

    async def _attempt(self, item: Claimed) -> None:
        try:
            async with asyncio.timeout(self.settings.notify_timeout_seconds):
                await self.deliver(item)
        except TimeoutError:
            await self._failed(item, f"timed out after {self.settings.notify_timeout_seconds} s")
        except Exception as exc:  # any failure of one delivery is that delivery's, not ours
            await self._failed(item, str(exc) or type(exc).__name__)
        else:
            await self.store.outbox.sent(item.id, time.time())
            self.stats.count("sent", item)

    async def _failed(self, item: Claimed, reason: str) -> None:
        error = scrub(reason, item.target)
        log.warning("notification %d (%s %s) failed: %s", item.id, item.channel, item.event, error)
        if item.attempts >= self.settings.notify_max_attempts:
            await self.store.outbox.dead(item.id, time.time(), error)
            self.stats.count("dead", item)
            return
        await self.store.outbox.retry_at(item.id, time.time() + self.backoff(item.attempts), error)
        self.stats.count("retried", item)

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failed ones (with jitter)."""
        base = self.settings.notify_backoff_seconds * 2.0 ** min(attempts - 1, 30)
        return min(self.settings.notify_backoff_max_seconds, base) * random.uniform(0.5, 1.0)

    async def _purge(self) -> None:
        now = time.time()
        if now - self._purged >= PURGE_EVERY:
            self._purged = now
            await self.store.outbox.purge(now - KEEP_SENT)


def scrub(reason: str, address: str) -> str:
    """An error as the outbox keeps it: no e-mail address in it (SMTP servers like to quote
    them), and not too long."""
    text = re.sub(re.escape(address), "<address>", reason, flags=re.IGNORECASE)
    return _ADDRESS.sub("<address>", text)[:500]
