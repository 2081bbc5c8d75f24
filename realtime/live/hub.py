"""In-process pub/sub keyed by topic (one topic per article thread, one per article count).

Policy, plainly: `publish` never waits. Each event is encoded and framed once by the publisher and
the same bytes go to every subscriber of the topic (an SSE reader adds only its own `id:` line).
Every subscriber's unsent bytes are bounded; a subscriber that passes the bound is marked
`overflowed`, takes nothing more, and is closed (WebSocket 1013; an SSE stream is ended). Inside
`batch()` (one group commit) each subscriber gets all of its events as one write. A slow reader
therefore costs the others nothing: there is no backpressure from any subscriber onto the
publisher.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from websockets.frames import Frame, Opcode


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked WebSocket text frame: servers send the same bytes to every reader."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])


def sse_data(payload: bytes) -> bytes:
    """The `data:` line of a Server-Sent Event: msgspec's JSON never holds a raw newline, so one
    line carries it. The event's `id:` (per reader) and the blank line that ends it follow."""
    return b"data: " + payload + b"\n"


@dataclass(frozen=True, slots=True)
class Message:
    """One encoded event, with its WebSocket frame and its SSE data line built once for every
    reader (the data line costs ~0.1 µs next to the frame's ~1 µs: built eagerly).

    `comment_id` is set on new-comment events so that resume can drop what the replay sent.
    """

    text: str
    size: int
    comment_id: int | None
    frame: bytes
    rev: int | None = None  # set on edit and delete events (the change number)
    sse: bytes = b""

    @classmethod
    def of(cls, payload: bytes, comment_id: int | None = None, rev: int | None = None) -> Message:
        frame = text_frame(payload)
        return cls(payload.decode(), len(payload), comment_id, frame, rev, sse_data(payload))


class Sink(Protocol):
    """A socket that takes frames without waiting (see `realtime.web.server.DirectSocket`)."""

    def write(self, data: bytes) -> int:
        """Queue `data` for sending; return the bytes still unsent after it."""
        ...


class EventSink(Protocol):
    """A stream that encodes each message itself (an SSE stream: each reader's own `id:`)."""

    def send(self, messages: list[Message]) -> int:
        """Queue these fresh messages for sending; return the bytes still unsent after them."""
        ...


class Overflowed(Exception):
    """The subscriber's unsent bytes passed the bound."""


class Subscriber:
    """One reader: a bounded backlog until `attach`, then straight writes to its socket.

    While the reader is being greeted and replayed, events wait in the backlog. `attach` flushes
    the backlog to the sink and from then on `offer` writes each event as it is published
    (`attach_events`: the same for a stream that encodes the messages itself). In both
    modes, comment events with an id at or below `seen` are dropped (the replay sent them), and
    once the unsent bytes pass the bound the subscriber is `overflowed`, takes nothing more, and
    `on_overflow` is called once. Kept small (slots, no Event until one is awaited): a process
    holds tens of thousands of these.
    """

    __slots__ = (
        "_limit",
        "_backlog",
        "_bytes",
        "_wakeup",
        "_sink",
        "_events",
        "_seen",
        "_seen_rev",
        "overflowed",
        "on_overflow",
    )

    def __init__(self, limit_bytes: int) -> None:
        self._limit = limit_bytes
        self._backlog: list[Message] = []
        self._bytes = 0
        self._wakeup: asyncio.Event | None = None
        self._sink: Sink | None = None
        self._events: EventSink | None = None
        self._seen = 0
        self._seen_rev = 0
        self.overflowed = False
        self.on_overflow: Callable[[], None] | None = None

    def resume_after(self, seen: int, seen_rev: int = 0) -> None:
        """Drop comment events up to id `seen` and changes up to `seen_rev`: already sent."""
        self._seen = seen
        self._seen_rev = seen_rev

    def offer(self, message: Message) -> None:
        if self.overflowed:
            return
        if self._sink is not None:
            if self._fresh(message) and self._sink.write(message.frame) > self._limit:
                self._overflow()
            return
        if self._events is not None:
            if self._fresh(message) and self._events.send([message]) > self._limit:
                self._overflow()
            return
        self._backlog.append(message)
        self._bytes += message.size
        if self._bytes > self._limit:
            self._overflow()
        elif self._wakeup is not None:
            self._wakeup.set()

    def offer_many(self, messages: list[Message]) -> None:
        """Several events at once: with a sink, one write of the joined frames."""
        if self.overflowed:
            return
        if self._sink is not None:
            frames = [message.frame for message in messages if self._fresh(message)]
            if frames and self._sink.write(b"".join(frames)) > self._limit:
                self._overflow()
        elif self._events is not None:
            fresh = [message for message in messages if self._fresh(message)]
            if fresh and self._events.send(fresh) > self._limit:
                self._overflow()
        else:
            for message in messages:
                self.offer(message)

    def attach(self, sink: Sink) -> None:
        backlog, self._backlog, self._bytes = self._backlog, [], 0
        self._sink = sink
        if backlog:
            self.offer_many(backlog)

    def attach_events(self, sink: EventSink) -> None:
        backlog, self._backlog, self._bytes = self._backlog, [], 0
        self._events = sink
        if backlog:
            self.offer_many(backlog)

    def _fresh(self, message: Message) -> bool:
        if message.rev is not None:
            return message.rev > self._seen_rev
        if message.comment_id is None:
            return True
        if message.comment_id <= self._seen:
            return False
        self._seen = message.comment_id
        return True

    def _overflow(self) -> None:
        self.overflowed = True
        self._backlog = []
        if self._wakeup is not None:
            self._wakeup.set()
        if self.on_overflow is not None:
            self.on_overflow()

    async def drain(self) -> list[Message]:
        """Without a sink: wait for at least one message, then take every fresh one waiting.
        Raises `Overflowed` once the backlog has passed the bound."""
        while True:
            while not self._backlog and not self.overflowed:
                if self._wakeup is None:
                    self._wakeup = asyncio.Event()
                self._wakeup.clear()
                await self._wakeup.wait()
            if self.overflowed:
                raise Overflowed
            batch = [message for message in self._backlog if self._fresh(message)]
            self._backlog = []
            self._bytes = 0
            if batch:
                return batch


@dataclass
class HubStats:
    """Plain counters, read by /metrics at scrape time."""

    published: int = 0
    deliveries: int = 0
    slow_readers_closed: int = 0


class Hub:
    def __init__(self, backlog_bytes: int) -> None:
        self._backlog_bytes = backlog_bytes
        self.stats = HubStats()
        self._topics: dict[str, set[Subscriber]] = {}
        self._changed: set[str] = set()
        self._held: list[tuple[str, Message]] | None = None
        self._observers: list[tuple[str, Callable[[str], None]]] = []

    @asynccontextmanager
    async def subscribe(self, topics: Iterable[str]) -> AsyncIterator[Subscriber]:
        names = list(topics)
        subscriber = self.join(names)
        try:
            yield subscriber
        finally:
            self.leave(subscriber, names)

    def join(self, topics: list[str]) -> Subscriber:
        """A new subscriber to `topics`, from now on; `leave` with the same topics ends it. For
        a reader served without a task (`realtime.web.lean_ws`); `subscribe` is the usual way."""
        subscriber = Subscriber(self._backlog_bytes)
        for topic in topics:
            self._topics.setdefault(topic, set()).add(subscriber)
            self._changed.add(topic)
        return subscriber

    def leave(self, subscriber: Subscriber, topics: list[str]) -> None:
        for topic in topics:
            members = self._topics.get(topic)
            if members is not None:
                members.discard(subscriber)
                if not members:
                    del self._topics[topic]
            self._changed.add(topic)

    def observe(self, prefix: str, changed: Callable[[str], None]) -> None:
        """Call `changed(topic)` for every event this process delivers on a topic that starts
        with `prefix` (its own, and on a networked hub the other processes'): for a cache of
        what those events change (`realtime.web.counts_cache`)."""
        self._observers.append((prefix, changed))

    def publish(self, topic: str, message: Message) -> None:
        for prefix, changed in self._observers:
            if topic.startswith(prefix):
                changed(topic)
        subscribers = self._topics.get(topic, ())
        self.stats.published += 1
        self.stats.deliveries += len(subscribers)
        if self._held is not None:
            self._held.append((topic, message))
            return
        for subscriber in subscribers:
            subscriber.offer(message)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold what is published inside, then give each subscriber all of its events at once:
        one socket write per reader per group commit instead of one per comment."""
        if self._held is not None:
            yield
            return
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            self._deliver(held)

    def _deliver(self, held: list[tuple[str, Message]]) -> None:
        if len(held) == 1:
            topic, message = held[0]
            for subscriber in self._topics.get(topic, ()):
                subscriber.offer(message)
            return
        per_subscriber: dict[Subscriber, list[Message]] = {}
        for topic, message in held:
            for subscriber in self._topics.get(topic, ()):
                per_subscriber.setdefault(subscriber, []).append(message)
        for subscriber, messages in per_subscriber.items():
            subscriber.offer_many(messages)

    def announce(self, topic: str, message: Message) -> None:
        """Deliver to this process's readers only: for what each process works out for itself
        (the `watchers` totals). In one process this is `publish`."""
        Hub.publish(self, topic, message)

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


class Backfill(Protocol):
    """What a networked hub reads back from the store when events went missing on the way."""

    async def last_id(self) -> int:
        """A committed comment id that every smaller id is committed before (or never): the
        highest committed or published id; 0 when there is none."""
        ...

    async def published(self, first: int, last: int) -> dict[int, list[tuple[str, Message]]]:
        """For each published comment with an id in [first, last]: its events, as published."""
        ...
