"""Coalescing: at most one event per key per interval, the last one always carrying the newest
value (sans I/O apart from the loop's timers; the service drives it).

Policy, plainly: the first value offered for a key goes out at once. Values offered within the
next `interval` wait, each replacing the one before; when the interval ends the newest goes out
and a new interval starts. An interval that ends with nothing waiting forgets the key. So a
burst of N offers in T seconds sends at most 1 + T / interval events, the last of which is the
last value offered. It sits in front of the hub's `publish`, so a networked hub (Redis) carries
the coalesced events only, and a coalesced event is published like any other event, in the
publishing process's order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(slots=True)
class _Slot(Generic[V]):
    timer: asyncio.TimerHandle | None = None
    waiting: V | None = None


class Coalescer(Generic[K, V]):
    def __init__(self, interval: float, send: Callable[[K, V], None]) -> None:
        self._interval = interval
        self._send = send
        self._slots: dict[K, _Slot[V]] = {}
        self.sent = 0  # events that went out (for tests and /metrics)

    def offer(self, key: K, value: V) -> None:
        slot = self._slots.get(key)
        if slot is not None:
            slot.waiting = value  # the newest wins; it goes out when the interval ends
            return
        slot = self._slots[key] = _Slot()
        self._emit(key, value, slot)

    def _emit(self, key: K, value: V, slot: _Slot[V]) -> None:
        slot.timer = asyncio.get_running_loop().call_later(self._interval, self._tick, key)
        self.sent += 1
        self._send(key, value)

    def _tick(self, key: K) -> None:
        slot = self._slots[key]
        if slot.waiting is None:
            del self._slots[key]
            return
        value, slot.waiting = slot.waiting, None
        self._emit(key, value, slot)

    def flush(self) -> None:
        """Send everything that waits, now, and forget every key (at shutdown)."""
        slots, self._slots = self._slots, {}
        for key, slot in slots.items():
            if slot.timer is not None:
                slot.timer.cancel()
            if slot.waiting is not None:
                self.sent += 1
                self._send(key, slot.waiting)
