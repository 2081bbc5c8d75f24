"""Several server processes as one hub, on Redis pub/sub (design and diagram: docs/scaling.md).

The ordering, read-back and watcher logic is `NetworkHub`'s; this module is the Redis link: one
client for publishing (retries once: a pooled connection may be stale after a Redis restart) and
one for the subscription (never retries inside redis-py: a silent resubscribe would skip the
catch-up from the database).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from realtime.live.hub import Backfill
from realtime.live.network_hub import NetworkHub

SUBSCRIBE_TIMEOUT = 5.0


def channel_prefix(url: str) -> str:
    """Pub/sub ignores the database number; the channels carry it, so `/0` and `/1` stay apart."""
    database = urlsplit(url).path.strip("/") or "0"
    return f"realtime:{database}"


class RedisLink:
    name = "Redis"
    errors: tuple[type[BaseException], ...] = (RedisError, OSError)  # TimeoutError is an OSError

    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}
        self._redis = Redis.from_url(url, retry=Retry(NoBackoff(), 1), **options)
        self._subscriber = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
        self._pubsub: PubSub | None = None

    async def subscribe(self, channels: list[str]) -> list[tuple[str, bytes]]:
        pubsub = self._pubsub = self._subscriber.pubsub()
        await pubsub.subscribe(*channels)
        early: list[tuple[str, bytes]] = []
        confirmed = 0
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
            while confirmed < len(channels):
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    confirmed += 1
                else:
                    early.append((message["channel"].decode(), message["data"]))
        return early

    async def receive(self, timeout: float) -> tuple[str, bytes] | None:
        assert self._pubsub is not None, "subscribe first"
        message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        return None if message is None else (message["channel"].decode(), message["data"])

    async def unsubscribe(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def publish(self, channel: str, data: bytes) -> None:
        await self._redis.publish(channel, data)

    async def close(self) -> None:
        await self._redis.aclose()
        await self._subscriber.aclose()


class RedisHub(NetworkHub):
    def __init__(self, url: str, backlog_bytes: int, backfill: Backfill, **timing: float) -> None:
        super().__init__(RedisLink(url), channel_prefix(url), backlog_bytes, backfill, **timing)
