"""`make_hub`: the backend named by the URL. It sits above every hub, so no hub imports another."""

from __future__ import annotations

from realtime.live.hub import Backfill, Hub


def make_hub(url: str, backlog_bytes: int, backfill: Backfill | None = None) -> Hub:
    """`memory://` is this process alone; `redis://` is several processes on Redis pub/sub."""
    if url.startswith("memory://"):
        return Hub(backlog_bytes)
    from realtime.live.redis_hub import RedisHub  # imported only when configured

    if backfill is None:
        raise ValueError("a networked hub needs a Backfill to read missed events back")
    return RedisHub(url, backlog_bytes, backfill)
