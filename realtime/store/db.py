"""What the Store asks of a database, whichever it is: connections to run SQL on, transactions.

The Store's SQL is written once, with `?` placeholders, in the SQL that SQLite and PostgreSQL
share (`RETURNING`, `ON CONFLICT`, standard functions); a backend translates the placeholders if
its driver wants others. What cannot be written once (schema, id sequences, the writer's lock,
backups) lives in the backend: `sqlite.py` and `postgres.py`.

- `Tx`: one connection, inside a transaction or not; rows come back as tuples-alike.
- `Backend`: read connections, write transactions for the group-commit writer, and the errors
  that mean "the database cannot take this right now" (turned into 503) or "a constraint said no".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Row = Sequence[Any]
Params = Sequence[Any]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: object) -> bool:
    """`postgresql://…` or `postgres://…` names a PostgreSQL database; anything else is SQLite."""
    return str(url).startswith(POSTGRES_SCHEMES)


class SchemaTooNew(Exception):
    """The database was migrated by a newer `realtime` than this one: refuse to run on it."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the database's schema is version {found}, newer than this realtime knows ({known}):"
            " run the realtime version that migrated it, or a newer one"
        )
        self.found = found
        self.known = known


def check_version(found: int, known: int) -> None:
    if found > known:
        raise SchemaTooNew(found, known)


class Tx(Protocol):
    async def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row, or None."""
        ...

    async def all(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def run(self, sql: str, params: Params = ()) -> None:
        """A statement whose rows, if any, are not wanted."""
        ...

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None: ...


class Backend(Protocol):
    dialect: str  # "sqlite" | "postgresql"
    # Errors that fail a whole group with 503 (disk full, locked, connection lost) ...
    unavailable: tuple[type[BaseException], ...]
    # ... and constraint violations (a job's own fault when it breaks one).
    integrity: tuple[type[BaseException], ...]

    def reader(self) -> Tx:
        """A connection for reads outside the writer's transaction."""
        ...

    async def begin(self) -> Tx:
        """Start a write transaction and return the connection it runs on."""
        ...

    async def commit(self, tx: Tx) -> None: ...

    async def rollback(self, tx: Tx) -> None:
        """Roll back whatever is open; never raises for "nothing to roll back"."""
        ...

    async def wrote(self, tx: Tx) -> bool:
        """Whether the open transaction has changed any row yet. One that changed none commits
        even on a read-only or full disk, so it proves nothing about writes."""
        ...

    def check(self) -> None:
        """Raise `Unavailable` once the database can no longer be trusted with a commit (SQLite:
        its file is no longer at its path). Cheap: the writer calls it after every COMMIT,
        before acknowledging the group, and /healthz calls it."""
        ...

    async def highest_id(self, tx: Tx, table: str) -> int:
        """The highest id this table has ever given out (ids are never given out twice)."""
        ...

    async def ids_taken(self, tx: Tx, table: str, highest: int) -> None:
        """Rows were inserted with explicit ids up to `highest`: never give those out again."""
        ...

    async def scrub(self) -> bool:
        """Leave no copy of deleted or overwritten data in the database's own files (the WAL
        on SQLite); True when that is done, False when a later checkpoint will finish it."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[Tx]:
        """A connection inside a read-only transaction: every read sees one moment (export)."""
        ...

    async def schema_version(self) -> int:
        """The number of the newest migration applied."""
        ...

    async def close(self) -> None: ...


async def scalar(tx: Tx, sql: str, params: Params = ()) -> Any:
    """The first column of the first row, or None."""
    row = await tx.one(sql, params)
    return row[0] if row else None
