"""In-process pub/sub keyed by topic (one topic per article thread, one per article count).

Policy, plainly: `publish` never waits. Each event is encoded once by the publisher and the same
`Message` goes to every subscriber of the topic. Every subscriber has a backlog bounded in bytes;
a subscriber whose unsent backlog passes the bound is marked `overflowed`, stops receiving, and its
owner closes it (WebSocket 1013). A slow reader therefore costs the others nothing: there is no
backpressure from any subscriber onto the publisher.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """One encoded event. `comment_id` is set on new-comment events so resume can de-duplicate."""

    text: str
    size: int
    comment_id: int | None = None

    @classmethod
    def of(cls, frame: bytes, comment_id: int | None = None) -> Message:
        return cls(frame.decode(), len(frame), comment_id)


class Subscriber:
    """One reader's bounded backlog of messages not yet written to its socket."""

    def __init__(self, limit_bytes: int) -> None:
        self._limit = limit_bytes
        self._backlog: deque[Message] = deque()
        self._bytes = 0
        self._wakeup = asyncio.Event()
        self.overflowed = asyncio.Event()

    @property
    def backlog_bytes(self) -> int:
        return self._bytes

    def offer(self, message: Message) -> None:
        if self.overflowed.is_set():
            return
        self._backlog.append(message)
        self._bytes += message.size
        if self._bytes > self._limit:
            self.overflowed.set()
        self._wakeup.set()

    async def drain(self) -> list[Message]:
        """Wait for at least one message, then take everything waiting."""
        while not self._backlog:
            self._wakeup.clear()
            await self._wakeup.wait()
        batch = list(self._backlog)
        self._backlog.clear()
        self._bytes = 0
        return batch


class Hub:
    def __init__(self, backlog_bytes: int) -> None:
        self._backlog_bytes = backlog_bytes
        self._topics: dict[str, set[Subscriber]] = {}
        self._changed: set[str] = set()

    @asynccontextmanager
    async def subscribe(self, topics: Iterable[str]) -> AsyncIterator[Subscriber]:
        subscriber = Subscriber(self._backlog_bytes)
        names = list(topics)
        for topic in names:
            self._topics.setdefault(topic, set()).add(subscriber)
            self._changed.add(topic)
        try:
            yield subscriber
        finally:
            for topic in names:
                members = self._topics.get(topic)
                if members is not None:
                    members.discard(subscriber)
                    if not members:
                        del self._topics[topic]
                self._changed.add(topic)

    def publish(self, topic: str, message: Message) -> None:
        for subscriber in self._topics.get(topic, ()):
            subscriber.offer(message)

    def subscribers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def take_changed(self) -> set[str]:
        """Topics whose subscriber count changed since the last call (for `watchers` events)."""
        changed, self._changed = self._changed, set()
        return changed

    async def start(self) -> None:
        """Nothing to connect in process; a networked hub connects here."""

    async def close(self) -> None:
        """Nothing to release in process; a networked hub disconnects here."""


def make_hub(url: str, backlog_bytes: int) -> Hub:
    """The backend named by the URL's scheme: `memory://` here, `redis://` in `redis_hub`."""
    if url.startswith("memory://"):
        return Hub(backlog_bytes)
    from realtime.redis_hub import RedisHub  # imported only when configured

    return RedisHub(url, backlog_bytes)
