"""The run: check the server, prepare the articles, connect the readers, post, drain, collect.

Phases, in order (`RunState.phase` names them for the live display):
1. `setup`: `GET /healthz`, then create (admin token) or find the articles;
2. `connecting`: start the reader processes and wait until every reader has its `hello`;
3. `posting`: posters run for `duration` seconds (or until `comments` are posted);
4. `draining`: readers get the acknowledged ids, wait for the rest (up to `drain_timeout`),
   close, and report; the coordinator merges their reports into one `Report`.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import msgspec

from realtime.loadtest.args import Options
from realtime.loadtest.histogram import Histogram
from realtime.loadtest.posters import Posters, PostStats
from realtime.loadtest.protocol import (
    Expect,
    FromReader,
    Progress,
    Ready,
    Result,
    Spec,
    ToReader,
    frame,
    raise_file_limit,
    read_from_reader,
)
from realtime.models import ArticleIn

BIN_SECONDS = 0.1
HTTP_TIMEOUT = 30.0
_encode = msgspec.json.Encoder().encode

T = TypeVar("T")
Hook = Callable[[], Awaitable[None]]


class RunError(Exception):
    """The run could not start or finish; the message is one line."""


class ReaderProc:
    """One reader process, seen from the coordinator."""

    def __init__(self, proc: asyncio.subprocess.Process, spec: Spec) -> None:
        self.proc = proc
        self.spec = spec
        self.progress: Progress | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[Ready] = loop.create_future()
        self.result: asyncio.Future[Result] = loop.create_future()
        self.stderr: deque[str] = deque(maxlen=20)
        self._tasks = [asyncio.create_task(self._pump()), asyncio.create_task(self._errors())]

    @classmethod
    async def start(cls, spec: Spec) -> ReaderProc:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "realtime.loadtest.readers",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        reader = cls(proc, spec)
        reader.send(spec)
        return reader

    def send(self, message: ToReader) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(frame(message))

    async def _pump(self) -> None:
        assert self.proc.stdout is not None
        while (message := await read_from_reader(self.proc.stdout)) is not None:
            self._take(message)
        await self.proc.wait()
        error = RunError(f"a reader process exited early ({self._last_error()})")
        for future in (self.ready, self.result):
            if not future.done():
                future.set_exception(error)

    def _take(self, message: FromReader) -> None:
        if isinstance(message, Progress):
            self.progress = message
        elif isinstance(message, Ready):
            self.ready.set_result(message)
        elif isinstance(message, Result):
            self.result.set_result(message)

    async def _errors(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace").rstrip())

    def _last_error(self) -> str:
        lines = [line for line in self.stderr if line.strip()]
        return lines[-1][:200] if lines else f"exit status {self.proc.returncode}"

    async def stop(self) -> None:
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for future in (self.ready, self.result):
            if future.done() and not future.cancelled():
                future.exception()  # reported once by whoever awaited it; not again at exit


class RunState:
    """Everything the live display and the report read while and after the run."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.run_id = secrets.token_hex(4)
        self.t_base = time.time()
        self.started = time.monotonic()
        self.phase = "setup"
        self.procs: list[ReaderProc] = []
        self.posts = PostStats(options.slugs, self.t_base, BIN_SECONDS)
        self.posting_started: float | None = None
        self.posting_ended: float | None = None
        self.readies: list[Ready] = []
        self.results: list[Result] = []

    def progress(self) -> list[Progress]:
        return [proc.progress for proc in self.procs if proc.progress is not None]

    def live_latency(self) -> Histogram:
        merged = Histogram()
        for progress in self.progress():
            merged.merge(progress.latency)
        return merged


async def run(
    state: RunState, after_connect: Hook | None = None, after_posting: Hook | None = None
) -> None:
    """Run the load test described by `state.options`, filling `state` in as it goes."""
    options = state.options
    raise_file_limit()
    async with httpx.AsyncClient(
        base_url=options.url,
        timeout=HTTP_TIMEOUT,
        limits=httpx.Limits(max_connections=options.posters + 4),
        trust_env=False,  # loopback load: never through a proxy from the environment
    ) as client:
        await check_server(client, options.url)
        await prepare_articles(client, options)
        try:
            await connect_readers(state)
            if after_connect is not None:
                await after_connect()
            await post(state, client)
            if after_posting is not None:
                await after_posting()
            await drain(state)
        finally:
            await asyncio.gather(*(proc.stop() for proc in state.procs))
    state.phase = "done"


async def check_server(client: httpx.AsyncClient, url: str) -> None:
    try:
        response = await client.get("/healthz", timeout=10)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise RunError(f"cannot reach {url}: {reason}") from None
    if response.status_code != 200:
        raise RunError(f"{url}/healthz answered {response.status_code}, not 200")


async def prepare_articles(client: httpx.AsyncClient, options: Options) -> None:
    for slug in options.slugs:
        if options.admin_token:
            title = f"Load test {slug}"
            response = await client.put(
                f"/api/articles/{slug}",
                content=_encode(ArticleIn(title=title)),
                headers={
                    "authorization": f"Bearer {options.admin_token}",
                    "content-type": "application/json",
                },
            )
            if response.status_code not in (200, 201):
                raise RunError(f"creating article {slug} answered {_status(response)}")
        else:
            response = await client.get(f"/api/articles/{slug}")
            if response.status_code == 404:
                raise RunError(
                    f"article {slug} does not exist: pass --admin-token (or set "
                    "REALTIME_ADMIN_TOKEN) to create it, or create it with `realtime article put`"
                )
            if response.status_code != 200:
                raise RunError(f"reading article {slug} answered {_status(response)}")


def _status(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.reason_phrase
    return f"{response.status_code} ({message})"


async def connect_readers(state: RunState) -> None:
    options = state.options
    state.phase = "connecting"
    for n in range(options.procs):
        first = options.readers * n // options.procs
        count = options.readers * (n + 1) // options.procs - first
        spec = Spec(
            ws_url=options.ws_url,
            slugs=options.slugs,
            first=first,
            count=count,
            run_id=state.run_id,
            t_base=state.t_base,
            connect_timeout=options.connect_timeout,
            connect_concurrency=options.connect_concurrency,
            bin_seconds=BIN_SECONDS,
            transport=options.transport,
            url=options.url,
            ws_client=options.ws_client,
        )
        state.procs.append(await ReaderProc.start(spec))
    most = math.ceil(options.readers / options.procs / options.connect_concurrency)
    timeout = options.connect_timeout * most + 30
    state.readies = await _gather([proc.ready for proc in state.procs], timeout, "connecting")
    if not any(ready.connected for ready in state.readies):
        reasons = sorted({reason for ready in state.readies for reason in ready.errors})
        where = options.url if options.transport == "sse" else options.ws_url
        raise RunError(f"no reader could connect to {where}: {', '.join(reasons)}")


async def post(state: RunState, client: httpx.AsyncClient) -> None:
    options = state.options
    state.phase = "posting"
    state.posting_started = time.monotonic()
    posters = Posters(client, options.slugs, state.run_id, state.posts, options.body_bytes)
    await posters.run(options.posters, options.rate, options.duration, options.comments)
    state.posting_ended = time.monotonic()


async def drain(state: RunState) -> None:
    state.phase = "draining"
    ids = {slug: sorted(found) for slug, found in state.posts.ids.items()}
    expect = Expect(ids=ids, drain_timeout=state.options.drain_timeout)
    for proc in state.procs:
        proc.send(expect)
    timeout = state.options.drain_timeout + 60
    state.results = await _gather([proc.result for proc in state.procs], timeout, "draining")


async def _gather(futures: list[asyncio.Future[T]], timeout: float, what: str) -> list[T]:
    try:
        return await asyncio.wait_for(asyncio.gather(*futures), timeout)
    except TimeoutError:
        raise RunError(f"reader processes did not finish {what} in {timeout:.0f} s") from None
