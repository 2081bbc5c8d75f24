"""Wide race windows: hold a server (running in a thread) at one point while the test acts.

- `Pause`: one point in the server's code held until the test lets it go.
- `hold_after_replay`: the resuming reader held once its replay has read everything.
- `late_tasks`: every task the app's own code starts on a server's loop held until the end of the
  block (asyncio never promised when a task runs; this is the latest it may).
- `RawPost`: a POST whose answer the test can look for without reading it (was a 201 sent yet?).

docs/testing.md says which race each one opens and how the tests were shown to catch it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import select
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import realtime
from tests.servers import UNIT, ThreadServer

APP_CODE = str(Path(realtime.__file__).resolve().parent)
ASYNCIO_CODE = str(Path(asyncio.__file__).resolve().parent)


class Pause:
    """A point in a server's code that waits there until the test calls `release`."""

    def __init__(self) -> None:
        self._reached = threading.Event()
        self._go = threading.Event()

    async def hold(self) -> None:
        """Awaited in the server's loop: wait for the test (never longer than 30 units)."""
        self._reached.set()
        await asyncio.to_thread(self._go.wait, 30 * UNIT)

    async def reached(self, what: str) -> None:
        """Awaited in the test: the server is held at the point now."""
        if not await asyncio.to_thread(self._reached.wait, 10 * UNIT):
            raise AssertionError(f"the server never reached the pause: {what}")

    def release(self) -> None:
        self._go.set()


def hold_after_replay(server: ThreadServer, pause: Pause) -> None:
    """Hold every replay once it has read past its end (a `comments_after` page that is empty):
    the moment after which a comment reaches the reader only through its subscription."""
    store = server.service.store
    read = store.comments_after

    async def comments_after(slug: str, after: int, limit: int) -> list[Any]:
        page = await read(slug, after, limit)
        if not page:
            await pause.hold()
        return page

    store.comments_after = comments_after


class LateTasks:
    """A task factory that holds back every task started by the app's own code."""

    def __init__(self) -> None:
        self.held: list[asyncio.Event] = []
        self.open = False

    def factory(
        self, loop: asyncio.AbstractEventLoop, coro: Any, **options: Any
    ) -> asyncio.Task[Any]:
        if not self.open and _started_by_app():
            gate = asyncio.Event()
            self.held.append(gate)
            coro = _after(gate, coro)
        return asyncio.Task(coro, loop=loop, **options)

    def release(self) -> None:
        """Let the held tasks run, the last one started first."""
        self.open = True
        for gate in reversed(self.held):
            gate.set()


async def _after(gate: asyncio.Event, coro: Coroutine[Any, Any, Any]) -> Any:
    await gate.wait()
    return await coro


def _started_by_app() -> bool:
    """Whether the code that asked for the task (past asyncio's own frames) is in `realtime/`."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(ASYNCIO_CODE):
        frame = frame.f_back  # type: ignore[assignment]
    return frame is not None and frame.f_code.co_filename.startswith(APP_CODE)


@contextlib.asynccontextmanager
async def late_tasks(server: ThreadServer) -> AsyncIterator[LateTasks]:
    """Inside the block, every task the app starts on `server` waits until the block ends."""
    loop = server.server.servers[0].get_loop()
    late = LateTasks()
    await _in_loop(loop, lambda: loop.set_task_factory(late.factory))
    try:
        yield late
    finally:
        await _in_loop(loop, lambda: loop.set_task_factory(None))
        loop.call_soon_threadsafe(late.release)


async def _in_loop(loop: asyncio.AbstractEventLoop, call: Callable[[], None]) -> None:
    """Run `call` in the server's loop (another thread) and wait until it has run."""
    done: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run() -> None:
        call()
        done.set_result(None)

    loop.call_soon_threadsafe(run)
    await asyncio.wrap_future(done)


class RawPost:
    """A JSON POST on its own socket: `answered` tells, without waiting, whether any answer came."""

    def __init__(self, port: int, path: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10 * UNIT)
        self.sock.sendall(head.encode() + body)

    def answered(self) -> bool:
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    async def response(self) -> tuple[int, dict[str, Any]]:
        """The status and JSON body, once the server has answered and closed."""
        raw = await asyncio.to_thread(self._read_all)
        head, _, body = raw.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body)

    def _read_all(self) -> bytes:
        chunks = []
        with self.sock:
            while chunk := self.sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)
