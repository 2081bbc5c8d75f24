"""PostgreSQL under the Store, for deployments on several machines (docs/scaling.md).

The driver is asyncpg, with its own pool. Why asyncpg over psycopg 3 + psycopg-pool: it is the
faster of the two on this workload (binary protocol, each statement prepared once per connection
and cached, no libpq underneath); its pool replaces a broken connection at the next acquire, so a
PostgreSQL restart needs no restart of realtime; LISTEN/NOTIFY (for `hub = "postgres"`) is built
in; and it is one wheel with no system library. It wants `$1` placeholders: the Store's `?` are
translated once per SQL string (`dollar_params`, cached).

**One writer at a time, as on SQLite.** Every write transaction takes one advisory lock (the
writer lock) right after BEGIN and holds it to COMMIT, so the group commits of all processes run
one after the other, like SQLite's `BEGIN IMMEDIATE`. Ids come from identity sequences (`CACHE 1`)
inside those transactions, so an id is drawn only after every transaction that drew a smaller one
has committed or rolled back, and the lock is released only once the commit is visible: once
comment N is committed, every smaller id is committed too or never will be, in every article and
across all of them. That is the order the hubs and `?after=ID` rest on, and the change number
(`rev = max(rev) + 1`) is right for the same reason. The cost and the alternative are in
docs/scaling.md. `lock_timeout` bounds the wait for the lock as SQLite's busy timeout does: past
it the group answers 503.

Bounded waits: taking a pooled connection, connecting, each statement and the lock each give up
after `busy_timeout_ms` (a statement a little later, so the server's own timeout speaks first);
`Store` turns those errors into 503.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from realtime.store import pg_schema
from realtime.store.db import Params, Row, Tx

# An idle transaction (a writer whose machine vanished while it held the lock) is ended by the
# server after this long, at the latest, so the other processes can write again.
IDLE_IN_TRANSACTION_MS = 30_000
STATEMENT_MARGIN = 2.0  # seconds a statement may run past the server's lock_timeout


@functools.lru_cache(maxsize=4096)
def dollar_params(sql: str) -> str:
    """`?` placeholders as `$1, $2, …`, outside quoted strings and quoted names."""
    out: list[str] = []
    number = 0
    quote = ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(char)
    return "".join(out)


class PgTx:
    """One pooled connection (the writer's, inside its transaction, or a snapshot's)."""

    __slots__ = ("conn",)

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self.conn = conn

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        # An asyncpg Record indexes and unpacks as a tuple does.
        return cast(Row | None, await self.conn.fetchrow(dollar_params(sql), *params))

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        return cast(list[Row], await self.conn.fetch(dollar_params(sql), *params))

    async def run(self, sql: str, params: Params = ()) -> None:
        # Without parameters asyncpg sends the text as it is: several statements are allowed.
        await self.conn.execute(dollar_params(sql), *params)

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        await self.conn.executemany(dollar_params(sql), list(rows))


class PoolReader:
    """Reads outside the writer: each statement on whichever pooled connection is free."""

    __slots__ = ("pool",)

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        return cast(Row | None, await self.pool.fetchrow(dollar_params(sql), *params))

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        return cast(list[Row], await self.pool.fetch(dollar_params(sql), *params))

    async def run(self, sql: str, params: Params = ()) -> None:
        await self.pool.execute(dollar_params(sql), *params)

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        await self.pool.executemany(dollar_params(sql), list(rows))


class PostgresBackend:
    dialect = "postgresql"
    # Connection refused or lost, the server shutting down or starting up, a timeout, the lock
    # not granted: the database cannot take this now (503). Constraint violations are also
    # PostgresErrors; `integrity` names them for the jobs that turn them into a 409.
    unavailable: tuple[type[BaseException], ...] = (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
        TimeoutError,
    )
    integrity: tuple[type[BaseException], ...] = (asyncpg.IntegrityConstraintViolationError,)

    def __init__(self, pool: asyncpg.Pool, schema: int, timeout: float) -> None:
        self.pool = pool
        self._reader = PoolReader(pool)
        self._timeout = timeout
        keys = pg_schema.lock_key(pg_schema.WRITER_LOCK, schema)
        # One round trip: BEGIN and the writer lock in one simple query (the keys are ints).
        self._begin = (
            "BEGIN ISOLATION LEVEL READ COMMITTED;"
            f" SELECT pg_advisory_xact_lock({keys[0]}, {keys[1]})"
        )

    @classmethod
    async def open(
        cls, url: str, busy_timeout_ms: int = 5000, pool_size: int = 10
    ) -> PostgresBackend:
        timeout = max(busy_timeout_ms, 1) / 1000
        settings = {
            "lock_timeout": str(busy_timeout_ms),
            "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
            "application_name": "realtime",
        }
        options: dict[str, Any] = {"timeout": timeout, "server_settings": settings}
        conn = await asyncpg.connect(url, **options)
        try:
            await pg_schema.migrate(conn)
            schema = await pg_schema.schema_oid(conn)
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=pool_size,
            command_timeout=timeout + STATEMENT_MARGIN,
            **options,
        )
        return cls(pool, schema, timeout)

    def reader(self) -> PoolReader:
        return self._reader

    def check(self) -> None:
        """Nothing to watch here: a server answers for its own files (SQLite's `file_guard` is
        about a file that can be moved away under an open connection)."""

    async def begin(self) -> PgTx:
        conn = await self.pool.acquire(timeout=self._timeout)
        try:
            await conn.execute(self._begin)
        except BaseException:
            await self._release(conn)
            raise
        return PgTx(conn)

    async def commit(self, tx: Tx) -> None:
        """On failure the connection stays with the writer, which rolls back (and releases)."""
        assert isinstance(tx, PgTx)
        await tx.conn.execute("COMMIT")
        await self._release(tx.conn)

    async def wrote(self, tx: Tx) -> bool:
        # A transaction gets an id only when it first writes.
        row = await tx.one("SELECT txid_current_if_assigned() IS NOT NULL")
        return bool(row and row[0])

    async def rollback(self, tx: Tx) -> None:
        assert isinstance(tx, PgTx)
        try:
            with suppress(*self.unavailable):
                await tx.conn.execute("ROLLBACK")
        finally:
            await self._release(tx.conn)

    async def _release(self, conn: PoolConnectionProxy) -> None:
        with suppress(*self.unavailable):
            await self.pool.release(conn, timeout=self._timeout)

    async def highest_id(self, tx: Tx, table: str) -> int:
        # The identity's sequence: the highest id given out, rolled-back inserts included.
        sequence = f"{table}_id_seq"
        row = await tx.one(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}")
        return int(row[0]) if row else 0

    async def ids_taken(self, tx: Tx, table: str, highest: int) -> None:
        """Move the sequence past ids that were inserted explicitly (an import)."""
        sequence = f"{table}_id_seq"
        await tx.run(
            f"SELECT setval('{sequence}', greatest(?, (SELECT last_value FROM {sequence})))",
            (highest,),
        )

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PgTx]:
        async with self.pool.acquire(timeout=self._timeout) as conn:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                yield PgTx(conn)

    async def schema_version(self) -> int:
        async with self.pool.acquire(timeout=self._timeout) as conn:
            return await pg_schema.version(conn)

    async def scrub(self) -> bool:
        """VACUUM the tables a forgetting changes, so the old row versions are gone from what
        PostgreSQL reads. Their bytes may stay in free space and in WAL segments until both are
        reused: erasing those is the database's own business (docs/privacy.md)."""
        async with self.pool.acquire(timeout=self._timeout) as conn:
            await conn.execute("VACUUM comments, pending, bans")
        return True

    async def close(self) -> None:
        await self.pool.close()


# ---- backup: pg_dump ---------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """A PostgreSQL client program: from PATH, else the newest of Debian's versioned copies."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not versions:
        raise FileNotFoundError(
            f"{name} is not installed: install PostgreSQL's client programs, or back up with"
            " the database's own tools (docs/scaling.md)"
        )
    return str(versions[-1])


def without_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL with its password moved into PGPASSWORD, so that it never shows in `ps`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, {}
    host = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + host)), {"PGPASSWORD": unquote(parts.password)}


async def dump(url: str, target: Path) -> int:
    """`pg_dump --format=custom` of the schema the tables are in, into `target` (written beside
    it and renamed when complete). The dump reads the snapshot of a transaction held open here,
    so the comment count returned is the dump's own."""
    program = pg_tool("pg_dump")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            schema = await conn.fetchval("SELECT current_schema()")
            comments = int(await conn.fetchval("SELECT count(*) FROM comments"))
            await _pg_dump(program, url, [f"--snapshot={snapshot}", f"--schema={schema}"], partial)
    finally:
        await conn.close()
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return comments


async def _pg_dump(program: str, url: str, options: list[str], partial: Path) -> None:
    address, secret = without_password(url)
    process = None
    try:
        process = await asyncio.create_subprocess_exec(
            program,
            "--format=custom",
            *options,
            f"--file={partial}",
            f"--dbname={address}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **secret},
        )
        _, errors = await process.communicate()
    except asyncio.CancelledError:
        # Shutting down mid-dump: stop pg_dump and reap it (and its pipe), so no orphan or
        # partial file is left and the event loop closes with no process handle open. Cancelled
        # while it was starting, asyncio has killed and reaped it, but it may have made the file.
        if process is not None:
            process.kill()
            await process.communicate()
        partial.unlink(missing_ok=True)
        raise
    if process.returncode != 0:
        partial.unlink(missing_ok=True)
        raise OSError(f"pg_dump failed: {errors.decode(errors='replace').strip()}")
