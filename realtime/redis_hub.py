"""Placeholder until the Redis hub lands: a clear start-up error instead of an ImportError."""

from __future__ import annotations

from realtime.config import ConfigError
from realtime.hub import Hub


class RedisHub(Hub):
    def __init__(self, url: str, backlog_bytes: int) -> None:
        raise ConfigError(f"hub {url!r}: the Redis hub is not available in this version yet")
