"""`make_hub`: the backend named by the URL. It sits above every hub, so no hub imports another."""

from __future__ import annotations

from realtime.live.hub import Backfill, Hub


def make_hub(
    url: str, backlog_bytes: int, backfill: Backfill | None = None, database: str = ""
) -> Hub:
    """`memory://` is this process alone; `redis://` is several processes on Redis pub/sub;
    `postgres` is several processes on LISTEN/NOTIFY in the `database` (a `postgresql://` URL
    as the hub names another PostgreSQL database)."""
    if url.startswith("memory://"):
        return Hub(backlog_bytes)
    if backfill is None:
        raise ValueError("a networked hub needs a Backfill to read missed events back")
    if url == "postgres" or url.startswith(("postgresql://", "postgres://")):
        from realtime.live.postgres_hub import PostgresHub  # imported only when configured

        return PostgresHub(database if url == "postgres" else url, backlog_bytes, backfill)
    from realtime.live.redis_hub import RedisHub

    return RedisHub(url, backlog_bytes, backfill)
