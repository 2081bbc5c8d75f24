"""Work cut short at every point, for tests that a cancel (a server stopping) leaves no SQLite
connection open: each one has an aiosqlite thread, which would outlive the event loop and, not
being a daemon, keep the process from exiting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.servers import UNIT

T = TypeVar("T")


async def cut_short(work: Coroutine[Any, Any, T], turns: int) -> T | None:
    """Run `work` and cancel it after `turns` loop turns: its result if it ended first."""
    task = asyncio.create_task(work)
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return None


def sqlite_workers() -> int:
    """aiosqlite's connection threads still alive: one per connection not yet closed."""
    return sum("_connection_worker_thread" in thread.name for thread in threading.enumerate())


async def sqlite_workers_back_to(before: int) -> None:
    """Wait for closed connections' threads to end (they do by themselves, soon after)."""
    async with asyncio.timeout(5 * UNIT):
        while sqlite_workers() > before:
            await asyncio.sleep(0.01)
