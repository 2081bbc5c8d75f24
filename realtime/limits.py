"""Per-client limits: token buckets for posting, a repeat-post check, and open-socket counts.

All are keyed by client address and held in memory, bounded in the number of clients they
remember (the least recently seen are forgotten first), so a flood of addresses cannot grow them.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from realtime.errors import Conflict, RateLimited

MAX_CLIENTS = 100_000
V = TypeVar("V")


class _Recent(OrderedDict[str, V]):
    """An LRU dict that forgets its oldest key past `MAX_CLIENTS`."""

    def touch(self, key: str, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > MAX_CLIENTS:
            self.popitem(last=False)


class TokenBucket:
    """`burst` tokens, refilled at `per_minute`; each post takes one."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: _Recent[tuple[float, float]] = _Recent()

    def take(self, key: str) -> None:
        now = self._clock()
        tokens, then = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens < 1.0:
            self._buckets.touch(key, (tokens, now))
            wait = math.ceil((1.0 - tokens) / self._rate) if self._rate > 0 else 3600
            raise RateLimited(f"too many comments; try again in {wait} s", retry_after=wait)
        self._buckets.touch(key, (tokens - 1.0, now))


class RepeatGuard:
    """Refuses the same body posted twice in a row by one client."""

    def __init__(self) -> None:
        self._last: _Recent[bytes] = _Recent()

    def check(self, key: str, body: str) -> None:
        digest = hashlib.sha256(body.encode()).digest()
        if self._last.get(key) == digest:
            raise Conflict("you just posted this same comment", "body")

    def remember(self, key: str, body: str) -> None:
        self._last.touch(key, hashlib.sha256(body.encode()).digest())


class SocketCounter:
    """Open WebSockets, in all and per client address; refusals counted by the limit reached."""

    def __init__(self, total: int, per_client: int | None) -> None:
        self.total_limit = total
        self.per_client_limit = per_client
        self.open = 0
        self._by_client: dict[str, int] = {}
        self.refused = {"max_readers": 0, "max_readers_per_client": 0}

    def try_open(self, client: str) -> bool:
        held = self._by_client.get(client, 0)
        if self.open >= self.total_limit:
            self.refused["max_readers"] += 1
            return False
        if self.per_client_limit is not None and held >= self.per_client_limit:
            self.refused["max_readers_per_client"] += 1
            return False
        self.open += 1
        self._by_client[client] = held + 1
        return True

    def close(self, client: str) -> None:
        self.open -= 1
        held = self._by_client.get(client, 1) - 1
        if held:
            self._by_client[client] = held
        else:
            self._by_client.pop(client, None)
