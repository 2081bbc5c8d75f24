"""A reader process: many WebSocket readers on one asyncio loop, checking every delivery.

Run by the coordinator as `python -m realtime.loadtest.readers` (see `protocol`). Each reader
connects to `/ws/articles/{slug}`, waits for `hello`, then records every comment of this run:
its latency (receipt minus the send time in the body) and its id. Ids must arrive once each and in
increasing order; a reader counts the ids it sees twice (duplicated) and those that arrive below
one it already had (out of order). Once posting is over the coordinator sends the acknowledged ids
per article; each reader's missing ids are those it never received.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import sys
import time
from array import array
from typing import IO

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from realtime.loadtest.histogram import Histogram
from realtime.loadtest.protocol import (
    Expect,
    Progress,
    Ready,
    Result,
    Spec,
    raise_file_limit,
    read_to_reader,
    sent_at,
    write,
)
from realtime.models import CommentEvent, Hello, ServerEvent

PROGRESS_SECONDS = 0.5
CLOSE_SECONDS = 2.0
_decode = msgspec.json.Decoder(ServerEvent).decode


class Tally:
    """What all readers of this process share: deliveries, latency, deliveries over time."""

    def __init__(self, spec: Spec) -> None:
        self.run_id = spec.run_id
        self.t_base = spec.t_base
        self.bin_seconds = spec.bin_seconds
        self.deliveries = 0
        self.last_delivery = 0.0
        self.other_messages = 0
        self.latency = Histogram()
        self.timeline: dict[int, int] = {}

    def delivered(self, sent: float, now: float) -> None:
        self.deliveries += 1
        self.last_delivery = now
        self.latency.record_seconds(now - sent)
        slot = int((now - self.t_base) / self.bin_seconds)
        self.timeline[slot] = self.timeline.get(slot, 0) + 1


class Reader:
    """One WebSocket and its own correctness record."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.ws: ClientConnection | None = None
        self.last = 0
        self.ids = array("q")  # ids in arrival order; increasing, so searchable
        self.late: set[int] = set()  # ids that arrived below `last`
        self.duplicated = 0
        self.out_of_order = 0
        self.close_code: int | None = None
        self.finished = False

    @property
    def unique(self) -> int:
        return len(self.ids) + len(self.late)

    def saw(self, comment_id: int) -> None:
        if comment_id > self.last:
            self.ids.append(comment_id)
            self.last = comment_id
            return
        at = bisect.bisect_left(self.ids, comment_id)
        if (at < len(self.ids) and self.ids[at] == comment_id) or comment_id in self.late:
            self.duplicated += 1
        else:
            self.out_of_order += 1
            self.late.add(comment_id)

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
            first = _decode(await self.ws.recv(decode=False))
        if not isinstance(first, Hello):
            raise ProtocolError(f"first message was {type(first).__name__}, not hello")
        return time.perf_counter() - start

    async def listen(self, tally: Tally) -> None:
        assert self.ws is not None
        try:
            while True:
                data = await self.ws.recv(decode=False)
                now = time.time()
                try:
                    event = _decode(data)
                except msgspec.MsgspecError:
                    event = None  # a message type newer than this client: the API may add them
                if isinstance(event, CommentEvent):
                    sent = sent_at(event.comment.body, tally.run_id)
                    if sent is not None:
                        tally.delivered(sent, now)
                        self.saw(event.comment.id)
                        continue
                tally.other_messages += 1  # watchers, edits, someone else's comment, ...
        except ConnectionClosed:
            if not self.finished:
                rcvd = self.ws.close_code
                self.close_code = rcvd if rcvd is not None else 1006

    async def close(self) -> None:
        self.finished = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), CLOSE_SECONDS)


class ProtocolError(Exception):
    """The server answered, but not as the API says."""


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


class ReaderProcess:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.tally = Tally(spec)
        self.readers = [
            Reader(spec.slugs[(spec.first + i) % len(spec.slugs)]) for i in range(spec.count)
        ]
        self.connect_time = Histogram()
        self.errors: dict[str, int] = {}
        self.connected = 0
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def ws_base(self) -> str:
        return self.spec.ws_url.rstrip("/")

    async def connect_all(self) -> Ready:
        gate = asyncio.Semaphore(self.spec.connect_concurrency)
        await asyncio.gather(*(self._connect(reader, gate) for reader in self.readers))
        failed = len(self.readers) - self.connected
        return Ready(self.connected, failed, self.errors, self.connect_time.data())

    async def _connect(self, reader: Reader, gate: asyncio.Semaphore) -> None:
        url = f"{self.ws_base}/ws/articles/{reader.slug}"
        async with gate:
            try:
                self.connect_time.record_seconds(await reader.open(url, self.spec.connect_timeout))
            except Exception as exc:  # every failure is counted by kind, none stops the run
                reason = error_name(exc)
                self.errors[reason] = self.errors.get(reason, 0) + 1
                if reader.ws is not None:
                    await reader.close()
                reader.ws = None
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
        live = [reader for reader in self.readers if reader.ws is not None]
        wanted = {slug: set(ids) for slug, ids in expect.ids.items()}
        await self._drain(live, wanted, expect.drain_timeout)
        await asyncio.gather(*(reader.close() for reader in live))
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return self._result(live, wanted, started)

    async def _drain(self, live: list[Reader], wanted: dict[str, set[int]], timeout: float) -> None:
        """Wait until every open reader has as many ids as were acknowledged, or the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(
                reader.close_code is not None or reader.unique >= len(wanted.get(reader.slug, ()))
                for reader in live
            ):
                return
            await asyncio.sleep(0.05)

    def _result(self, live: list[Reader], wanted: dict[str, set[int]], started: float) -> Result:
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
