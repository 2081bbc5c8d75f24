"""Event-loop stalls, seen from inside: how late a timer runs, and how long each GC pause is.

`LoopLag` keeps one timer due every `interval` seconds and notes how late it ran: while the loop
is free that is well under a millisecond; a callback that holds the loop for 300 ms (a fan-out,
a slow parse, a garbage collection) makes the next tick 300 ms late. Every lateness goes to a
histogram (`/metrics`), and one over `stall` is logged with the time the cyclic garbage
collector took in the same span, so a stall names its cause.

`GcPauses` times each collection of the cyclic garbage collector through `gc.callbacks` (two
clock reads per collection); the pauses go to a histogram by generation.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("realtime.stalls")

INTERVAL = 0.02
STALL = 0.1


class GcPauses:
    """Times every collection; `total` is the seconds spent collecting since `install`."""

    def __init__(self, observe: Callable[[int, float], None]) -> None:
        self._observe = observe
        self._started = 0.0
        self.total = 0.0
        self.collections = [0, 0, 0]

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        generation: int = info["generation"]
        self.total += pause
        self.collections[generation] += 1
        self._observe(generation, pause)


class LoopLag:
    """One timer, rescheduled each time it runs; its lateness is the loop's lag."""

    def __init__(
        self,
        observe: Callable[[float], None],
        gc_pauses: GcPauses | None = None,
        interval: float = INTERVAL,
        stall: float = STALL,
    ) -> None:
        self._observe = observe
        self._gc = gc_pauses
        self._interval = interval
        self._stall = stall
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._gc_at_last_tick = 0.0
        self.stalls = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._schedule(self._loop.time())

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, now: float) -> None:
        assert self._loop is not None
        self._due = now + self._interval
        self._gc_at_last_tick = self._gc.total if self._gc is not None else 0.0
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        lag = max(0.0, now - self._due)
        self._observe(lag)
        if lag >= self._stall:
            self.stalls += 1
            in_gc = self._gc.total - self._gc_at_last_tick if self._gc is not None else 0.0
            log.warning(
                "event loop stalled for %.0f ms (garbage collection: %.0f ms of it)",
                lag * 1000,
                in_gc * 1000,
            )
        self._schedule(now)
