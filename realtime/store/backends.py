"""`open_backend`: the database named by the URL, migrated to the newest schema.

`postgresql://…` or `postgres://…` is PostgreSQL; a path, `sqlite:PATH` or `sqlite:///PATH` is an
SQLite file. The one place that tells the two apart: above it, only the `Backend` protocol.
"""

from __future__ import annotations

from pathlib import Path

from realtime.store.db import Backend, is_postgres_url
from realtime.store.sqlite import SqliteBackend


async def open_backend(
    url: str | Path, *, busy_timeout_ms: int = 5000, pool_size: int = 10
) -> Backend:
    if is_postgres_url(url):
        from realtime.store.postgres import PostgresBackend  # asyncpg only when configured

        return await PostgresBackend.open(str(url), busy_timeout_ms, pool_size)
    return await SqliteBackend.open(url, busy_timeout_ms)
