"""Hold N idle lean WebSocket readers open (for bench/capacity.py), in a process of their own.

Prints the number connected once every reader has its first message, then waits until stdin
closes. The readers are `realtime.loadtest.lean` protocols: a few hundred bytes each here.

    python bench/hold_readers.py ws://127.0.0.1:8000/ws/articles/a 5000
"""

from __future__ import annotations

import asyncio
import sys

from realtime.loadtest.lean import LeanReader
from realtime.loadtest.protocol import raise_file_limit


async def hold(url: str, count: int) -> None:
    raise_file_limit()
    gate = asyncio.Semaphore(200)
    readers: list[LeanReader] = []
    failed = 0

    async def one() -> None:
        nonlocal failed
        reader = LeanReader("held")
        async with gate:
            try:
                await reader.open(url, 120)
                readers.append(reader)
            except Exception:  # counted: the caller compares with what it asked for
                failed += 1

    await asyncio.gather(*(one() for _ in range(count)))
    print(len(readers), failed, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(hold(sys.argv[1], int(sys.argv[2])))
