"""The outbox in the store: leased claiming on one database shared by two stores (as two
processes share it; SQLite and PostgreSQL), lease expiry, settling, and the sender's backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from realtime.config import load_settings
from realtime.notify.sender import Sender, scrub
from realtime.store import Store
from realtime.store.db import Tx
from realtime.store.outbox import Outgoing, enqueue
from tests.conftest import STORES


async def fill(store: Store, count: int) -> None:
    async def work(tx: Tx) -> None:
        for _ in range(count):
            item = Outgoing("webhook", "comment.published", "http://x/h", b"{}", 0.0)
            await enqueue(tx, item, time.time())

    await store.writer.submit(work)


@pytest.mark.parametrize("store_kind", STORES)
async def test_two_stores_claim_each_row_once(new_db: Callable[[], str]) -> None:
    """Two stores on one database claiming at once take every row exactly once between them."""
    db = new_db()
    first = await Store.open(db)
    second = await Store.open(db)
    try:
        await fill(first, 200)
        taken: list[int] = []

        async def drain(store: Store) -> None:
            for _ in range(200):
                claimed = await store.outbox.claim(time.time(), 60, 7)
                if not claimed:
                    return
                taken.extend(item.id for item in claimed)

        await asyncio.gather(drain(first), drain(second), drain(first), drain(second))
        assert sorted(taken) == list(range(1, 201))
        assert await first.outbox.next_due() is not None  # leased, not yet sent
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("store_kind", STORES)
async def test_lease_expires_and_settled_rows_stay_put(new_db: Callable[[], str]) -> None:
    """A leased row is not claimed again until its lease ends; a sent or dead row never is."""
    store = await Store.open(new_db())
    try:
        await fill(store, 3)
        now = time.time()
        assert [c.id for c in await store.outbox.claim(now, 5, 10)] == [1, 2, 3]
        assert await store.outbox.claim(now + 1, 5, 10) == []
        await store.outbox.sent(1, now)
        await store.outbox.dead(2, now, "gave up")
        again = await store.outbox.claim(now + 6, 5, 10)
        assert [(c.id, c.attempts) for c in again] == [(3, 2)]
        [dead] = await store.outbox.listing("dead")
        assert dead.id == 2 and dead.last_error == "gave up" and dead.target == "http://x/h"
        revived = await store.outbox.revive(2, now + 7)
        assert revived is not None and revived.state == "pending" and revived.attempts == 0
        assert await store.outbox.revive(1, now + 7) is None  # only dead rows come back
    finally:
        await store.close()


async def test_backoff_doubles_with_jitter_up_to_the_cap(tmp_path: Path) -> None:
    """Attempt n waits base * 2^(n-1) times a jitter in [0.5, 1], never more than the cap."""
    settings = load_settings(
        environ={}, notify_backoff_seconds=2.0, notify_backoff_max_seconds=60.0
    )
    store = await Store.open(tmp_path / "db.sqlite")
    try:
        sender = Sender(settings, store, deliver=lambda item: asyncio.sleep(0))
        for attempts, full in ((1, 2.0), (2, 4.0), (3, 8.0), (10, 60.0), (500, 60.0)):
            delays = [sender.backoff(attempts) for _ in range(200)]
            assert all(full * 0.5 <= delay <= full for delay in delays)
            assert max(delays) - min(delays) > full * 0.2  # jittered, not in step
    finally:
        await store.close()


def test_errors_are_kept_without_addresses() -> None:
    """An SMTP error that quotes addresses is stored without them, and bounded."""
    text = scrub(
        "550 <Kari@Example.org> unknown; cc ola@x.net;" + " retry" * 200, "kari@example.org"
    )
    assert "@" not in text and len(text) == 500
