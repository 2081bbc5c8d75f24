"""SQLite under the Store: one file, WAL, one writer connection, two reader connections.

WAL lets the readers go on while the writer commits; `synchronous=FULL` makes every COMMIT an
fsync, so a 201 is on disk. `BEGIN IMMEDIATE` takes the write lock at the start of a group, so a
second process on the same file waits (up to the busy timeout) instead of failing mid-group.
`secure_delete` overwrites what is deleted or updated with zeros (in pages and on the freelist),
and `scrub` folds the WAL into the file and truncates it, so forgotten data leaves no bytes
behind in either file. While open, the backend holds a shared lock on the file (`files.InUse`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from realtime.store.db import Params, Row, Tx
from realtime.store.file_guard import FileGuard
from realtime.store.files import InUse
from realtime.store.schema import migrate, user_version

READERS = 2
SCHEME = "sqlite:"


def sqlite_path(url: str | Path) -> Path:
    """`sqlite:PATH`, `sqlite:///PATH` or a plain path, as a path."""
    text = str(url)
    if text.startswith("sqlite://"):
        text = text[len("sqlite://") :]
    elif text.startswith(SCHEME):
        text = text[len(SCHEME) :]
    return Path(text)


class SqliteTx:
    """One aiosqlite connection. `execute_fetchall` is one trip to the connection's thread where
    execute, fetchone and close are three: it matters on the writer, where every trip counts."""

    __slots__ = ("conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def run(self, sql: str, params: Params = ()) -> None:
        await self.conn.execute(sql, params)

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        await self.conn.executemany(sql, rows)


class SqliteBackend:
    dialect = "sqlite"
    unavailable: tuple[type[BaseException], ...] = (sqlite3.Error,)
    integrity: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(
        self,
        writer: aiosqlite.Connection,
        readers: list[aiosqlite.Connection],
        path: Path,
        busy_timeout_ms: int,
        in_use: InUse | None = None,
    ) -> None:
        self._in_use = in_use
        self._writer = SqliteTx(writer)
        self._changes_at_begin = 0  # the writer's total_changes when its transaction began
        self._readers = [SqliteTx(conn) for conn in readers]
        self._next_reader = itertools.cycle(self._readers)
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self.file_guard = FileGuard({})  # `open` watches the files it opened

    @classmethod
    async def open(cls, path: str | Path, busy_timeout_ms: int = 5000) -> SqliteBackend:
        path = sqlite_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        in_use = InUse.take(path)
        try:
            writer = await connect(path, busy_timeout_ms)
        except BaseException:
            in_use.release()
            raise
        readers: list[aiosqlite.Connection] = []
        try:
            await migrate(writer)
            for _ in range(READERS):
                readers.append(await connect(path, busy_timeout_ms))
        except BaseException:
            for conn in [*readers, writer]:
                await conn.close()
            in_use.release()
            raise
        backend = cls(writer, readers, path, busy_timeout_ms, in_use)
        backend.file_guard = FileGuard.watch(path)  # the file just opened, and its -wal
        return backend

    def reader(self) -> SqliteTx:
        return next(self._next_reader)

    async def begin(self) -> SqliteTx:
        await self._writer.run("BEGIN IMMEDIATE")
        self._changes_at_begin = self._writer.conn.total_changes
        return self._writer

    async def wrote(self, tx: Tx) -> bool:
        return self._writer.conn.total_changes != self._changes_at_begin

    async def commit(self, tx: Tx) -> None:
        await tx.run("COMMIT")

    async def rollback(self, tx: Tx) -> None:
        try:
            await tx.run("ROLLBACK")
        except sqlite3.Error:
            pass  # no transaction left to roll back (SQLite may already have done it)

    def check(self) -> None:
        self.file_guard.check()

    async def highest_id(self, tx: Tx, table: str) -> int:
        # AUTOINCREMENT keeps the highest id ever committed here, deleted rows included.
        row = await tx.one(
            "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?", (table,)
        )
        return int(row[0]) if row else 0

    async def ids_taken(self, tx: Tx, table: str, highest: int) -> None:
        """AUTOINCREMENT moves past explicit ids by itself."""

    async def scrub(self) -> bool:
        """Fold the WAL into the database and truncate it, so no old page image is left in it;
        False if a reader kept it from finishing (it is then done by a later checkpoint)."""
        conn = await connect(self.path, self._busy_timeout_ms)
        try:
            row = await SqliteTx(conn).one("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            await conn.close()
        return row is not None and row[0] == 0

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[SqliteTx]:
        """Its own connection, so a long export holds no reader the server needs."""
        conn = await connect(self.path, self._busy_timeout_ms)
        try:
            await conn.execute("BEGIN")  # the snapshot starts at the first read and lasts
            yield SqliteTx(conn)
            await conn.execute("COMMIT")
        finally:
            await conn.close()

    async def schema_version(self) -> int:
        return await user_version(self._writer.conn)

    async def close(self) -> None:
        for tx in [*self._readers, self._writer]:
            await tx.conn.close()
        if self._in_use is not None:
            self._in_use.release()
            self._in_use = None


async def connect(path: str | Path, busy_timeout_ms: int = 5000) -> aiosqlite.Connection:
    """A connection with the store's pragmas. Cancelled while opening (a server stopped during
    start-up or a backup), it is still closed: left open, its aiosqlite thread would outlive the
    event loop and, not being a daemon, keep the process from exiting."""
    # aiosqlite logs every statement with its parameters at DEBUG: e-mail addresses included.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    return await closed_if_cancelled(_open(sqlite_path(path), busy_timeout_ms))


async def closed_if_cancelled(
    opening: Awaitable[aiosqlite.Connection],
) -> aiosqlite.Connection:
    """Open a connection; if cancelled meanwhile, let the opening end and close what it made."""
    task = asyncio.ensure_future(opening)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await (await task).close()
        raise


async def _open(path: Path, busy_timeout_ms: int) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        for pragma in (
            "journal_mode = WAL",
            "synchronous = FULL",
            "foreign_keys = ON",
            "secure_delete = ON",
            f"busy_timeout = {int(busy_timeout_ms)}",
        ):
            await conn.execute(f"PRAGMA {pragma}")
    except BaseException:
        await conn.close()
        raise
    return conn
