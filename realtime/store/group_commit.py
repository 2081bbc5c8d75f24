"""One writer that groups concurrent writes into one transaction.

Callers `submit(work, on_commit)`. The writer takes every job waiting in its queue (up to
`max_batch`), runs them in one transaction (the backend's `begin`: `BEGIN IMMEDIATE` on SQLite,
BEGIN and the writer lock on PostgreSQL) and commits once: one fsync for the whole group instead
of one per comment. A job that raises an `AppError` (a bad parent, a closed article) must fail
alone: the group is then rolled back and run again with each job inside its own SAVEPOINT. Jobs
only read and write through their `tx`, so running one twice is safe; the first try skips the
two savepoint statements per job, which are most of a job's round trips to the database.

After the COMMIT the writer calls each job's `on_commit` in the order the jobs ran (which is id
order), then resolves the callers' futures. A database error (disk full, locked past the busy
timeout, connection lost) rolls the whole group back and fails every job in it with
`Unavailable`: nothing is half-written, nothing is acknowledged that is not on disk.
Such failures are logged once per run of them (a full disk fails every group until space is
freed), not once per group.

After each COMMIT, before the group is acknowledged, `backend.check()` says whether the database
can still be trusted (SQLite: `file_guard.py`, its file is still at its path). When it raises, the
group fails as above and nothing of it is published, so nothing is acknowledged from a file that
no restart would open; from then on every group fails with that error before writing anything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from realtime.errors import AppError, Unavailable
from realtime.store.db import Backend, Tx

T = TypeVar("T")
Work = Callable[[Tx], Awaitable[T]]
OnCommit = Callable[[T], None]

log = logging.getLogger("realtime.store")


@dataclass(eq=False)
class _Job(Generic[T]):
    work: Work[T]
    on_commit: OnCommit[T] | None
    future: asyncio.Future[T]
    result: Any = None
    error: AppError | None = None


@dataclass
class CommitStats:
    """Counters a benchmark or /metrics can read."""

    transactions: int = 0
    jobs: int = 0
    observers: list[Callable[[float, int], None]] = field(default_factory=list)

    def record(self, seconds: float, jobs: int) -> None:
        self.transactions += 1
        self.jobs += jobs
        for observer in self.observers:
            observer(seconds, jobs)


class GroupCommitWriter:
    def __init__(self, backend: Backend, max_batch: int) -> None:
        self._backend = backend
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._tx: Tx | None = None  # the open transaction, while a group runs
        self.stats = CommitStats()
        # Wraps the publishing of one group (the hub's `batch`), so readers get a group's events
        # in one write each.
        self.settle_scope: Callable[[], AbstractContextManager[object]] = nullcontext
        self._distrusted: AppError | None = None  # what backend.check() raised, for good
        self._failed_groups = 0  # in the current run of failures, for logging once
        self._group_wrote = False  # while writes fail: whether the committed group changed rows
        # Test-only (tests/test_races.py): awaited right before each COMMIT, to hold a group's
        # transaction open while a test checks that no caller has been answered. None in service.
        self.before_commit: Callable[[], Awaitable[None]] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        """Finish every job already submitted, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def submit(self, work: Work[T], on_commit: OnCommit[T] | None = None) -> T:
        if self._task is None:
            raise Unavailable("the database is shutting down")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(work, on_commit, future))
        # shield: a caller that goes away (client disconnect) must not cancel a job that may
        # already be committed; the job completes and publishes either way.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            except Exception as exc:  # never let the writer die: fail this group, go on
                log.exception("group commit failed")
                await self._rollback()  # else an open transaction blocks every later write
                self._fail(batch, Unavailable(f"database error: {type(exc).__name__}"))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit(self, batch: list[_Job[Any]]) -> None:
        started = time.perf_counter()
        backend = self._backend
        if self._distrusted is not None:
            self._fail(batch, self._distrusted)
            return
        try:
            if not await self._transaction(batch, guarded=False):
                # A job refused: run the group again, each job inside its own savepoint.
                await self._transaction(batch, guarded=True)
        except backend.unavailable as exc:
            await self._rollback()
            self._fail(batch, self._unavailable(exc))
            return
        if not self._trusted(batch):  # committed, but maybe to a file no restart will open
            return
        # A group that changed nothing (the notification sender's poll claiming no row) commits
        # even on a read-only disk: only one that wrote shows that writes work again.
        if self._failed_groups and self._group_wrote:
            log.warning("writes work again, after %d failed group commits", self._failed_groups)
            self._failed_groups = 0
        self.stats.record(time.perf_counter() - started, len(batch))
        with self.settle_scope():
            for job in batch:
                self._settle(job)

    async def _transaction(self, batch: list[_Job[Any]], *, guarded: bool) -> bool:
        """Run the group in one transaction and commit it. Unguarded (the first try, no
        savepoints: two statements fewer per job), a job that raises an `AppError` rolls the
        whole transaction back and False is returned; nothing of that try is kept."""
        self._tx = tx = await self._backend.begin()
        for job in batch:
            job.result = job.error = None
            if guarded:
                await self._run_guarded(tx, job)
                continue
            try:
                job.result = await job.work(tx)
            except AppError:
                await self._rollback()
                return False
        if self.before_commit is not None:
            await self.before_commit()
        if self._failed_groups:  # asked only then: on PostgreSQL it is one more round trip
            self._group_wrote = await self._backend.wrote(tx)
        await self._backend.commit(tx)
        self._tx = None
        return True

    async def _run_guarded(self, tx: Tx, job: _Job[Any]) -> None:
        await tx.run("SAVEPOINT job")
        try:
            job.result = await job.work(tx)
        except AppError as exc:
            # Without its traceback: its frames hold `job`, which holds it, a reference cycle
            # that only the garbage collector would free (the caller's await gives it a new one).
            job.error = exc.with_traceback(None)
            await tx.run("ROLLBACK TO SAVEPOINT job")
        await tx.run("RELEASE SAVEPOINT job")

    def _settle(self, job: _Job[Any]) -> None:
        if job.error is not None:
            _resolve(job.future, error=job.error)
            return
        if job.on_commit is not None:
            try:
                job.on_commit(job.result)
            except Exception:  # the write is committed; a failed publish must not undo the 201
                log.exception("on_commit callback failed")
        _resolve(job.future, result=job.result)

    async def _rollback(self) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            await self._backend.rollback(tx)

    def _trusted(self, batch: list[_Job[Any]]) -> bool:
        try:
            self._backend.check()
        except AppError as error:
            self._distrusted = error
            self._fail(batch, error)
            return False
        return True

    def _unavailable(self, exc: BaseException) -> Unavailable:
        if not self._failed_groups:
            log.warning("writes fail (%s): they answer 503 until the database takes them", exc)
        self._failed_groups += 1
        return Unavailable(f"the database cannot take writes right now ({exc})")

    def _fail(self, batch: list[_Job[Any]], error: AppError) -> None:
        for job in batch:
            _resolve(job.future, error=error)


def _resolve(
    future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
