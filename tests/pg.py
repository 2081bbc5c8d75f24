"""A real PostgreSQL server for tests: Debian's postgresql, a throwaway cluster on loopback.

`initdb` into a temporary directory and `pg_ctl start` on a free port, run as the `postgres`
user (PostgreSQL refuses to run as root, and tests and CI run as root). Each test gets its own
schema in one database (`fresh_url`): as isolated as a database per test, and about a hundred
times quicker to make than CREATE DATABASE.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

from realtime.store.db import is_postgres_url
from tests.servers import UNIT, free_port

DATABASE = "realtime_test"


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian keeps them per version)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version)
    return versions[-1].parent if versions else None


def _version(path: Path) -> int:
    name = path.parent.parent.name
    return int(name) if name.isdigit() else 0


class PostgresServer:
    """One cluster; `start`/`stop` may be called again (a restart keeps the data and port)."""

    def __init__(self, bindir: Path, *, fsync: bool = True) -> None:
        self.bin = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="realtime-pg-"))
        self.data = self.dir / "data"
        self.fsync = fsync
        self._schemas = itertools.count(1)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, timeout=60 * UNIT, check=check)

    def init(self) -> PostgresServer:
        self._run(
            str(self.bin / "initdb"),
            *("-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"),
            *("-E", "UTF8", "--locale=C.UTF-8"),
        )
        self.start()
        self.sql("postgres", f"CREATE DATABASE {DATABASE}")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        options += f" -c fsync={'on' if self.fsync else 'off'} -c max_connections=300"
        self._run(
            str(self.bin / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start", "-o", options),
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast` is a clean shutdown; `immediate` is the crash-like one."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop",
                  check=False)  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, database: str, statement: str) -> str:
        result = self._run(
            str(self.bin / "psql"),
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database),
            *("-v", "ON_ERROR_STOP=1", "-At", "-c", statement),
        )
        return result.stdout.decode().strip()

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_url(self) -> str:
        """A new, empty schema; the URL puts it first on the search path (libpq's `options`,
        which asyncpg and pg_dump both read)."""
        schema = f"t{next(self._schemas)}"
        self.sql(DATABASE, f"CREATE SCHEMA {schema}")
        return f"{self.url()}?options={quote(f'-c search_path={schema}')}"


async def fetch_rows(db: str | Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows read straight from the database (either kind), beside the server under test."""
    if is_postgres_url(db):
        conn = await asyncpg.connect(str(db))
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()
    with sqlite3.connect(db) as lite:
        return lite.execute(sql).fetchall()
