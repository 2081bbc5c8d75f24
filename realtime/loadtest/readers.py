"""A reader process: many WebSocket (or SSE) readers on one asyncio loop, checking every delivery.

Run by the coordinator as `python -m realtime.loadtest.readers` (see `protocol`). Each reader
connects to `/ws/articles/{slug}` (`/sse/articles/{slug}` with `--transport sse`, see
`realtime.loadtest.sse`), waits for `hello`, then records every comment of this run:
its latency (receipt minus the send time in the body) and its id. Ids must arrive once each and in
increasing order; a reader counts the ids it sees twice (duplicated) and those that arrive below
one it already had (out of order). Once posting is over the coordinator sends the acknowledged ids
per article; each reader's missing ids are those it never received.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import IO

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from realtime.loadtest.histogram import Histogram
from realtime.loadtest.lean import LeanReader
from realtime.loadtest.protocol import (
    Expect,
    Progress,
    Ready,
    Result,
    Spec,
    raise_file_limit,
    read_to_reader,
    write,
)
from realtime.loadtest.record import ProtocolError, Record, Tally, decode_event
from realtime.loadtest.sse import SseReader
from realtime.models import Hello

PROGRESS_SECONDS = 0.5
CLOSE_SECONDS = 2.0


class Reader(Record):
    """One WebSocket and its own correctness record."""

    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.ws: ClientConnection | None = None

    @property
    def connected(self) -> bool:
        return self.ws is not None

    async def open(self, url: str, timeout: float) -> float:
        """Connect and read `hello`; return the seconds it took."""
        start = time.perf_counter()
        async with asyncio.timeout(timeout):
            self.ws = await connect(
                url,
                compression=None,
                proxy=None,
                open_timeout=None,
                ping_interval=None,
                close_timeout=CLOSE_SECONDS,
                max_queue=1024,
            )
            first = decode_event(await self.ws.recv(decode=False))
        if not isinstance(first, Hello):
            raise ProtocolError(f"first message was {type(first).__name__}, not hello")
        return time.perf_counter() - start

    async def listen(self, tally: Tally) -> None:
        assert self.ws is not None
        try:
            while True:
                data = await self.ws.recv(decode=False)
                self.record(decode_event(data), tally, time.time())
        except ConnectionClosed:
            if not self.finished:
                rcvd = self.ws.close_code
                self.close_code = rcvd if rcvd is not None else 1006

    async def close(self) -> None:
        self.finished = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), CLOSE_SECONDS)

    async def abandon(self) -> None:
        """A failed connect: close what was opened; the reader is not counted as connected."""
        if self.ws is not None:
            await self.close()
        self.ws = None


def error_name(exc: BaseException) -> str:
    """A short, countable reason for a failed connection."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else 1006
        return f"closed {code} before hello"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (InvalidHandshake, ProtocolError, OSError, msgspec.DecodeError)):
        return f"{type(exc).__name__}: {exc}"[:120]
    return type(exc).__name__


def reader_kind(spec: Spec) -> type[Record]:
    if spec.transport == "sse":
        return SseReader
    return LeanReader if spec.ws_client == "lean" else Reader


class ReaderProcess:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.tally = Tally(spec)
        kind = reader_kind(spec)
        self.readers: list[Record] = [
            kind(spec.slugs[(spec.first + i) % len(spec.slugs)]) for i in range(spec.count)
        ]
        self.connect_time = Histogram()
        self.errors: dict[str, int] = {}
        self.connected = 0
        self.tasks: list[asyncio.Task[None]] = []

    def url(self, slug: str) -> str:
        if self.spec.transport == "sse":
            return f"{self.spec.url.rstrip('/')}/sse/articles/{slug}"
        return f"{self.spec.ws_url.rstrip('/')}/ws/articles/{slug}"

    async def connect_all(self) -> Ready:
        gate = asyncio.Semaphore(self.spec.connect_concurrency)
        await asyncio.gather(*(self._connect(reader, gate) for reader in self.readers))
        failed = len(self.readers) - self.connected
        return Ready(self.connected, failed, self.errors, self.connect_time.data())

    async def _connect(self, reader: Record, gate: asyncio.Semaphore) -> None:
        url = self.url(reader.slug)
        async with gate:
            try:
                self.connect_time.record_seconds(await reader.open(url, self.spec.connect_timeout))
            except Exception as exc:  # every failure is counted by kind, none stops the run
                reason = error_name(exc)
                self.errors[reason] = self.errors.get(reason, 0) + 1
                await reader.abandon()
                return
        self.connected += 1
        self.tasks.append(asyncio.create_task(reader.listen(self.tally)))

    def progress(self) -> Progress:
        return Progress(
            connected=self.connected,
            failed=sum(self.errors.values()),
            closed=sum(reader.close_code is not None for reader in self.readers),
            deliveries=self.tally.deliveries,
            latency=self.tally.latency.data(),
        )

    async def finish(self, expect: Expect, started: float) -> Result:
        live = [reader for reader in self.readers if reader.connected]
        wanted = {slug: set(ids) for slug, ids in expect.ids.items()}
        await self._drain(live, wanted, expect.drain_timeout)
        await asyncio.gather(*(reader.close() for reader in live))
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return self._result(live, wanted, started)

    async def _drain(self, live: list[Record], wanted: dict[str, set[int]], timeout: float) -> None:
        """Wait until every open reader has as many ids as were acknowledged, or the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(
                reader.close_code is not None or reader.unique >= len(wanted.get(reader.slug, ()))
                for reader in live
            ):
                return
            await asyncio.sleep(0.05)

    def _result(self, live: list[Record], wanted: dict[str, set[int]], started: float) -> Result:
        missing = duplicated = out_of_order = extra = problems = total = 0
        closed: dict[str, int] = {}
        for reader in live:
            expected = wanted.get(reader.slug, set())
            total += len(expected)
            found = sum(1 for i in reader.ids if i in expected) + len(reader.late & expected)
            lost = len(expected) - found
            missing += lost
            extra += reader.unique - found
            duplicated += reader.duplicated
            out_of_order += reader.out_of_order
            problems += bool(lost or reader.duplicated or reader.out_of_order)
            if reader.close_code is not None:
                key = str(reader.close_code)
                closed[key] = closed.get(key, 0) + 1
        return Result(
            deliveries=self.tally.deliveries,
            expected=total,
            last_delivery=self.tally.last_delivery,
            missing=missing,
            duplicated=duplicated,
            out_of_order=out_of_order,
            extra=extra,
            readers_with_problems=problems,
            closed=closed,
            other_messages=self.tally.other_messages,
            latency=self.tally.latency.data(),
            timeline=self.tally.timeline,
            cpu_seconds=time.process_time(),
            wall_seconds=time.monotonic() - started,
        )


async def _report_progress(process: ReaderProcess, out: IO[bytes]) -> None:
    while True:
        await asyncio.sleep(PROGRESS_SECONDS)
        write(out, process.progress())


async def serve(stdin: asyncio.StreamReader, out: IO[bytes]) -> None:
    started = time.monotonic()
    spec = await read_to_reader(stdin)
    if not isinstance(spec, Spec):
        return
    process = ReaderProcess(spec)
    reporter = asyncio.create_task(_report_progress(process, out))
    write(out, await process.connect_all())
    expect = await read_to_reader(stdin)
    reporter.cancel()
    if isinstance(expect, Expect):
        write(out, await process.finish(expect, started))


async def _main() -> None:
    raise_file_limit()
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await serve(stdin, sys.stdout.buffer)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
