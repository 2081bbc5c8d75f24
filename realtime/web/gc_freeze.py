"""Keeping long-lived objects out of the cyclic garbage collector's way, with `gc.freeze()`.

A full (generation 2) collection walks every container object the process tracks, so its pause
grows with the heap: with thousands of readers attached it held the event loop for hundreds of
milliseconds, and CPython starts one whenever the objects that have survived two collections
grow by a quarter. Most of those objects live as long as the process (modules, the app) or as
long as a reader stays (its socket, its hub subscriber). Frozen objects are never walked again.

The policy (`GcFreezer`):

1. at start-up, once the app is ready: collect, then freeze everything;
2. after each full collection, freeze what survived it: it has proven long-lived, and the next
   full collection walks only what grew old since, not the whole heap;
3. when the frozen objects have doubled since the last time, and not more often than once an
   hour, thaw: unfreeze, collect everything once, freeze again. That is a full pause over the
   whole heap (the one this avoids), so it is kept rare, and out of the first hour, when readers
   arrive (measured: a thaw at the 5,000th reader stalled the loop for 500 ms on a busy
   machine).

What freezing costs: a frozen object is never examined again, so one that later becomes garbage
inside a reference cycle is freed only by the next thaw (step 3 bounds that garbage by the live
heap, or an hour's worth). Objects freed by reference counting go as usual, frozen or not, and
the server's paths make no reference cycles: a request, a post fanned out to readers, a
reader's whole life (tests/test_gc_freeze.py checks them with the collector off).

The collector is process-wide: an app embedded in a bigger process (or a test) turns this off
(`gc_freeze = "off"`), and the app thaws what it froze when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("realtime.gc")


THAW_EVERY = 3600.0  # seconds, at least, between two thaws


class GcFreezer:
    def __init__(self, thaw_every: float = THAW_EVERY) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thaw_every = thaw_every
        self._thawed_at = 0.0
        self._frozen_at_thaw = 0
        self.freezes = 0
        self.thaws = 0

    def start(self) -> None:
        """Step 1; from here on, steps 2 and 3 after every full collection."""
        self._loop = asyncio.get_running_loop()
        gc.collect()
        gc.freeze()
        self._frozen_at_thaw = gc.get_freeze_count()
        self._thawed_at = self._loop.time()
        gc.callbacks.append(self._collected)

    def stop(self) -> None:
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        gc.unfreeze()
        self._loop = None

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        """A gc callback, in whichever thread collected: the freeze itself runs in the loop."""
        loop = self._loop
        if phase == "stop" and info["generation"] == 2 and loop is not None:
            loop.call_soon_threadsafe(self._after_full_collection)

    def _after_full_collection(self) -> None:
        if self._loop is None:
            return
        gc.freeze()
        self.freezes += 1
        frozen = gc.get_freeze_count()
        now = self._loop.time()
        if frozen > 2 * self._frozen_at_thaw and now - self._thawed_at >= self._thaw_every:
            self.thaws += 1
            self._thawed_at = now
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
            self._frozen_at_thaw = gc.get_freeze_count()
            log.info(
                "thawed %d frozen objects, freed %d in cycles, froze %d",
                frozen,
                found,
                self._frozen_at_thaw,
            )

    @property
    def frozen(self) -> int:
        return gc.get_freeze_count()


@contextlib.contextmanager
def frozen(enabled: bool) -> Iterator[GcFreezer | None]:
    """The policy from here to the end of the block (the app's life), when `enabled`."""
    if not enabled:
        yield None
        return
    freezer = GcFreezer()
    freezer.start()
    try:
        yield freezer
    finally:
        freezer.stop()
