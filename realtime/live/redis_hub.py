"""Several server processes as one hub, on Redis pub/sub (design and diagram: docs/scaling.md).

- Every process publishes each event to one Redis channel right after its commit (a background
  task, so `publish` still never waits), and delivers it to its own readers through the same
  `Reorder` as the events it receives from the others: every reader gets every comment once, in id
  order, whichever process took the POST.
- A missing id is read back from the database (`Backfill`) once it has been missing for
  `gap_wait`, so neither a lost event nor an id that is never published stalls anything.
- Redis going away costs no reader and no comment: posting goes on (the publish is dropped),
  readers stay connected, each process tails the database about once a second until Redis
  answers, then resubscribes and catches up from the database; a process whose publishes were
  lost then publishes a marker so the others read those ids back too.
- Watchers: each process publishes its own reader counts per topic twice a second (at least once a
  second when nothing changes); a process's counts expire `beat_ttl` after its last beat, so a
  crashed process stops counting within a few seconds. `subscribers` is the sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from realtime.live.hub import Backfill, Hub, Message
from realtime.live.reorder import Reorder

log = logging.getLogger("realtime.redis")

FILL_CHUNK = 500  # ids read back from the database per round
RETRY_MIN, RETRY_MAX = 0.05, 1.0  # reconnect backoff, seconds
SUBSCRIBE_TIMEOUT = 5.0
START_WAIT = 2.0  # how long `start` waits for Redis before serving without it
BEAT_REFRESH = 1.0  # seconds between two beats when nothing changed


class _Event(msgspec.Struct, array_like=True):
    topic: str  # "" for a marker: "every id up to `key` is committed"
    payload: bytes
    comment_id: int | None
    key: int
    rev: int | None = None  # the change number of an edit or deletion


class _Envelope(msgspec.Struct, array_like=True):
    origin: str
    seq: int  # per origin: a publish that was retried is dropped the second time
    events: list[_Event]


class _Beat(msgspec.Struct, array_like=True):
    origin: str
    counts: dict[str, int]


_encode = msgspec.msgpack.Encoder().encode
_decode_envelope = msgspec.msgpack.Decoder(_Envelope).decode
_decode_beat = msgspec.msgpack.Decoder(_Beat).decode


@dataclass
class _Peer:
    counts: dict[str, int]
    expires: float


def channel_prefix(url: str) -> str:
    """Pub/sub ignores the database number; the channels carry it, so `/0` and `/1` stay apart."""
    database = urlsplit(url).path.strip("/") or "0"
    return f"realtime:{database}"


class RedisHub(Hub):
    def __init__(
        self,
        url: str,
        backlog_bytes: int,
        backfill: Backfill,
        *,
        gap_wait: float = 0.5,
        beat: float = 0.5,
        beat_ttl: float = 3.0,
    ) -> None:
        super().__init__(backlog_bytes)
        self.origin = secrets.token_hex(8)
        self._backfill = backfill
        self._gap_wait = gap_wait
        self._beat = beat
        self._beat_ttl = beat_ttl
        prefix = channel_prefix(url)
        self._events_channel = f"{prefix}:events"
        self._beats_channel = f"{prefix}:watchers"
        options: dict[str, Any] = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}
        # Publishing retries once (a pooled connection may be stale after a Redis restart); the
        # subscriber never does inside redis-py: a silent resubscribe would skip the catch-up.
        self._redis = Redis.from_url(url, retry=Retry(NoBackoff(), 1), **options)
        self._subscriber = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
        self._sent = 0  # envelopes published
        self._last_seq: dict[str, int] = {}  # the last envelope taken from each other process
        self._reorder = Reorder(super().publish, 1)
        self._own_last = 0  # the last comment id this process published
        self._outbox: list[_Event] = []
        self._own: list[tuple[str, Message, int]] = []  # published here, not yet delivered here
        self._outbox_ready = asyncio.Event()
        self._unannounced = 0  # the highest key whose publish was lost
        self.linked = asyncio.Event()  # set while subscribed to Redis
        self._peers: dict[str, _Peer] = {}
        self._remote: dict[str, int] = {}  # the other processes' readers, per topic
        self._gap_timer: asyncio.TimerHandle | None = None
        self._gap_at = 0  # the `next_id` the gap timer was armed for
        self._filling: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---- the Hub interface -------------------------------------------------------------------

    def publish(self, topic: str, message: Message) -> None:
        if message.comment_id is not None:
            self._own_last = max(self._own_last, message.comment_id)
            key = message.comment_id
        else:
            key = self._own_last
        self._outbox.append(
            _Event(topic, message.text.encode(), message.comment_id, key, message.rev)
        )
        self._outbox_ready.set()
        # Delivered here one loop turn later, after the pump (woken first) has written the
        # envelope to Redis: the other processes' readers do not wait for this fan-out.
        if not self._own:
            asyncio.get_running_loop().call_soon(self._deliver_own)
        self._own.append((topic, message, key))

    def _deliver_own(self) -> None:
        own, self._own = self._own, []
        with self.batch():  # what one group commit published: one write per reader
            for topic, message, key in own:
                self._reorder.push(topic, message, key)
        self._watch_gap()

    def announce(self, topic: str, message: Message) -> None:
        Hub.publish(self, topic, message)

    def subscribers(self, topic: str) -> int:
        return super().subscribers(topic) + self._remote.get(topic, 0)

    async def start(self) -> None:
        last = await self._backfill.last_id()
        self._reorder = Reorder(super().publish, last + 1)
        for work in (self._listen, self._pump, self._beats):
            self._tasks.append(asyncio.create_task(work(), name=f"redis-hub{work.__name__}"))
        try:
            await asyncio.wait_for(self.linked.wait(), START_WAIT)
        except TimeoutError:
            log.warning("Redis does not answer; serving from the database until it does")

    async def close(self) -> None:
        """Publish what is still waiting (the store closes first, so that is everything)."""
        if self._gap_timer is not None:
            self._gap_timer.cancel()
        tasks = [*self._tasks, *([self._filling] if self._filling else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._outbox:
            await self._send(self._outbox)
        await self._redis.aclose()
        await self._subscriber.aclose()
        log.info(
            "closed: %d comments waited for a smaller id, %d were read back from the database",
            self._reorder.waited,
            self._reorder.read_back,
        )

    # ---- receiving ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Subscribe, catch up from the database, then take messages; on any failure, again."""
        delay = RETRY_MIN
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await self._subscribe(pubsub)
                log.info("subscribed to Redis (%s)", self._events_channel)
                delay = RETRY_MIN
                self.linked.set()
                await self._catch_up()
                self._outbox_ready.set()  # the pump announces what it could not publish
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._on_message(message)
            except (RedisError, OSError) as exc:
                if self.linked.is_set():
                    log.warning("lost Redis (%s); tailing the database until it is back", exc)
                self.linked.clear()
            except Exception:
                log.exception("the Redis listener failed; starting it again")
                self.linked.clear()
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await self._catch_up()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _subscribe(self, pubsub: PubSub) -> None:
        """Subscribed means confirmed: only then is a database read sure to miss nothing."""
        await pubsub.subscribe(self._events_channel, self._beats_channel)
        confirmed = 0
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
            while confirmed < 2:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    confirmed += 1
                else:
                    self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode()
        try:
            if channel == self._events_channel:
                self._on_envelope(_decode_envelope(message["data"]))
            elif channel == self._beats_channel:
                self._on_beat(_decode_beat(message["data"]))
        except msgspec.DecodeError:
            log.warning("dropped an undecodable message on %s", channel)

    def _on_envelope(self, envelope: _Envelope) -> None:
        if envelope.origin == self.origin:
            return  # delivered here when it was published
        if envelope.seq <= self._last_seq.get(envelope.origin, 0):
            return  # published twice (a retry whose first try went through)
        self._last_seq[envelope.origin] = envelope.seq
        duplicates: dict[int, str] = {}
        with self.batch():  # one envelope is one group commit elsewhere: one write per reader
            for event in envelope.events:
                if not event.topic:
                    self._reorder.mark(event.key)
                    continue
                if (
                    event.comment_id is None
                    and duplicates.get(event.key, event.topic) != event.topic
                ):
                    continue  # the count that came with a comment already read back
                message = Message.of(event.payload, event.comment_id, event.rev)
                if not self._reorder.push(event.topic, message, event.key):
                    duplicates[event.key] = event.topic
        self._watch_gap()

    # ---- gaps: wait a little, then read the missing ids back from the database ---------------

    def _watch_gap(self) -> None:
        if not self._reorder.blocked:
            if self._gap_timer is not None:
                self._gap_timer.cancel()
                self._gap_timer = None
            return
        if self._gap_timer is not None and self._gap_at == self._reorder.next_id:
            return  # this gap's timer is already running
        if self._gap_timer is not None:
            self._gap_timer.cancel()
        self._gap_at = self._reorder.next_id
        loop = asyncio.get_running_loop()
        self._gap_timer = loop.call_later(self._gap_wait, self._on_gap_timeout)

    def _on_gap_timeout(self) -> None:
        self._gap_timer = None
        if self._filling is None:
            self._filling = asyncio.create_task(self._fill(), name="redis-hub-fill")

    async def _fill(self) -> None:
        """One round up to the highest id known now; a gap that opens later waits its turn."""
        try:
            await asyncio.sleep(0)  # a busy loop may have the missing event read but not taken yet
            wanted = self._reorder.wanted()
            first, last = wanted if wanted is not None else (1, 0)
            for start in range(first, last + 1, FILL_CHUNK):
                end = min(last, start + FILL_CHUNK - 1)
                found = await self._backfill.published(start, end)
                log.info(
                    "read back ids %d-%d from the database: %d published", start, end, len(found)
                )
                with self.batch():
                    self._reorder.fill(start, end, found)
        except Exception:
            log.exception("reading missed events back from the database failed; will retry")
        finally:
            self._filling = None
            self._watch_gap()

    async def _catch_up(self) -> None:
        """Everything committed so far that this process has not released: read it back now."""
        try:
            last = await self._backfill.last_id()
        except Exception:
            log.exception("could not read the last comment id; will retry")
            return
        with self.batch():
            self._reorder.mark(last)
        if self._reorder.blocked and self._filling is None:
            self._filling = asyncio.create_task(self._fill(), name="redis-hub-fill")

    # ---- sending -----------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Publish what was committed, in commit order, one envelope per batch."""
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            batch, self._outbox = self._outbox, []
            if self._unannounced:  # a marker: the others read those ids back
                batch.append(_Event("", b"", None, self._unannounced))
            if not batch:
                continue
            if await self._send(batch):
                self._unannounced = 0
            else:
                self._unannounced = max(self._unannounced, batch[-1].key)

    async def _send(self, events: list[_Event]) -> bool:
        if not self.linked.is_set():
            return False
        self._sent += 1
        envelope = _Envelope(self.origin, self._sent, events)
        try:
            await self._redis.publish(self._events_channel, _encode(envelope))
        except (RedisError, OSError) as exc:
            log.warning("publish to Redis failed (%s); the others will read it back", exc)
            return False
        return True

    # ---- watchers across processes -----------------------------------------------------------

    async def _beats(self) -> None:
        loop = asyncio.get_running_loop()
        sent: dict[str, int] | None = None
        sent_at = 0.0
        while True:
            await asyncio.sleep(self._beat)
            now = loop.time()
            self._expire_peers(now)
            counts = {topic: len(members) for topic, members in self._topics.items()}
            if not self.linked.is_set() or (counts == sent and now - sent_at < BEAT_REFRESH):
                continue
            with contextlib.suppress(RedisError, OSError):
                await self._redis.publish(self._beats_channel, _encode(_Beat(self.origin, counts)))
                sent, sent_at = counts, now

    def _on_beat(self, beat: _Beat) -> None:
        if beat.origin == self.origin:
            return
        expires = asyncio.get_running_loop().time() + self._beat_ttl
        old = self._peers.get(beat.origin)
        self._peers[beat.origin] = _Peer(beat.counts, expires)
        self._apply(old.counts if old else {}, beat.counts)

    def _expire_peers(self, now: float) -> None:
        for origin, peer in list(self._peers.items()):
            if peer.expires < now:
                del self._peers[origin]
                self._apply(peer.counts, {})

    def _apply(self, old: dict[str, int], new: dict[str, int]) -> None:
        for topic in old.keys() | new.keys():
            delta = new.get(topic, 0) - old.get(topic, 0)
            if delta:
                total = self._remote.get(topic, 0) + delta
                if total:
                    self._remote[topic] = total
                else:
                    del self._remote[topic]
                self._changed.add(topic)
