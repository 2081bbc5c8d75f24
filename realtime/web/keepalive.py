"""Keep-alive pings for many WebSockets from one task: a ring of slots, one visited at a time.

A timer per connection (uvicorn's way) is an object per reader and a wake-up per reader per
interval; a sweep over all readers at once would write tens of thousands of pings in one loop
turn, a stall of its own. Here each reader sits in one of `SLOTS` sets; every `interval / SLOTS`
seconds one set is visited, so each reader gets a ping every `interval` (and is closed by its own
`keepalive` when the previous one went unanswered), spread evenly over time.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

SLOTS = 20


class Pinged(Protocol):
    def keepalive(self) -> None:
        """Send a ping, or close if the last one went unanswered."""
        ...


class KeepaliveRing:
    def __init__(self, slots: int = SLOTS) -> None:
        self._slots: list[set[Pinged]] = [set() for _ in range(slots)]
        self._added = 0
        self._task: asyncio.Task[None] | None = None
        self.interval: float | None = None

    def start(self, interval: float | None) -> None:
        """Visit the ring every `interval` seconds (None or 0: never, no pings)."""
        self.interval = interval
        if interval and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(interval), name="pings")

    def add(self, member: Pinged) -> int:
        """Place `member` (round robin); returns its slot, for `discard`."""
        slot = self._added % len(self._slots)
        self._added += 1
        self._slots[slot].add(member)
        return slot

    def discard(self, member: Pinged, slot: int) -> None:
        self._slots[slot].discard(member)

    def __len__(self) -> int:
        return sum(len(slot) for slot in self._slots)

    async def _run(self, interval: float) -> None:
        step = interval / len(self._slots)
        turn = 0
        while True:
            await asyncio.sleep(step)
            for member in list(self._slots[turn]):
                member.keepalive()
            turn = (turn + 1) % len(self._slots)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
