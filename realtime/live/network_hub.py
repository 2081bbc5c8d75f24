"""Several server processes as one hub, over any pub/sub link (design and diagram:
docs/scaling.md). `redis_hub` runs it on Redis pub/sub, `postgres_hub` on PostgreSQL's
LISTEN/NOTIFY; everything else is here, shared.

- Every process publishes each event to one channel right after its commit (a background task,
  so `publish` still never waits), and delivers it to its own readers through the same `Reorder`
  as the events it receives from the others: every reader gets every comment once, in id order,
  whichever process took the POST.
- A missing id is read back from the database (`Backfill`) once it has been missing for
  `gap_wait`, so neither a lost event nor an id that is never published stalls anything.
- The link going away costs no reader and no comment: posting goes on (the publish is dropped),
  readers stay connected, each process tails the database about once a second until the link
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
from typing import Protocol

import msgspec

from realtime.live.hub import Backfill, Hub, Message
from realtime.live.reorder import Reorder

log = logging.getLogger("realtime.hub")

FILL_CHUNK = 500  # ids read back from the database per round
RETRY_MIN, RETRY_MAX = 0.05, 1.0  # reconnect backoff, seconds
START_WAIT = 2.0  # how long `start` waits for the link before serving without it
BEAT_REFRESH = 1.0  # seconds between two beats when nothing changed
RECEIVE_WAIT = 1.0  # seconds a receive waits before the link is asked whether it still lives


class Link(Protocol):
    """Pub/sub between processes: what a networked hub needs of Redis or PostgreSQL."""

    name: str  # for the logs
    errors: tuple[type[BaseException], ...]  # the link is down (reconnect and catch up)

    async def subscribe(self, channels: list[str]) -> list[tuple[str, bytes]]:
        """Subscribe and wait until the subscription is confirmed: only then is a database read
        sure to miss nothing. Returns what arrived meanwhile."""
        ...

    async def receive(self, timeout: float) -> tuple[str, bytes] | None:
        """The next message (channel, data), or None after `timeout`; raises one of `errors`
        once the subscription is lost."""
        ...

    async def unsubscribe(self) -> None:
        """Drop the subscription (never raises)."""
        ...

    async def publish(self, channel: str, data: bytes) -> None: ...

    async def close(self) -> None: ...


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


class NetworkHub(Hub):
    def __init__(
        self,
        link: Link,
        prefix: str,
        backlog_bytes: int,
        backfill: Backfill,
        *,
        gap_wait: float = 0.5,
        beat: float = 0.5,
        beat_ttl: float = 3.0,
    ) -> None:
        """`prefix` names the channels: `{prefix}:events` and `{prefix}:watchers`."""
        super().__init__(backlog_bytes)
        self.origin = secrets.token_hex(8)
        self._link = link
        self._backfill = backfill
        self._gap_wait = gap_wait
        self._beat = beat
        self._beat_ttl = beat_ttl
        self.name_channels(prefix)
        self._sent = 0  # envelopes published
        self._last_seq: dict[str, int] = {}  # the last envelope taken from each other process
        self._reorder = Reorder(super().publish, 1)
        self._own_last = 0  # the last comment id this process published
        self._outbox: list[_Event] = []
        self._own: list[tuple[str, Message, int]] = []  # published here, not yet delivered here
        self._outbox_ready = asyncio.Event()
        self._unannounced = 0  # the highest key whose publish was lost
        self.linked = asyncio.Event()  # set while subscribed
        self._peers: dict[str, _Peer] = {}
        self._remote: dict[str, int] = {}  # the other processes' readers, per topic
        self._gap_timer: asyncio.TimerHandle | None = None
        self._gap_at = 0  # the `next_id` the gap timer was armed for
        self._filling: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def name_channels(self, prefix: str) -> None:
        """`{prefix}:events` and `{prefix}:watchers` (before `start`)."""
        self._events_channel = f"{prefix}:events"
        self._beats_channel = f"{prefix}:watchers"

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
        # envelope to the link: the other processes' readers do not wait for this fan-out.
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
            self._tasks.append(asyncio.create_task(work(), name=f"hub{work.__name__}"))
        try:
            await asyncio.wait_for(self.linked.wait(), START_WAIT)
        except TimeoutError:
            log.warning(
                "%s does not answer; serving from the database until it does", self._link.name
            )

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
        await self._link.unsubscribe()
        await self._link.close()
        log.info(
            "closed: %d comments waited for a smaller id, %d were read back from the database",
            self._reorder.waited,
            self._reorder.read_back,
        )

    # ---- receiving ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Subscribe, catch up from the database, then take messages; on any failure, again."""
        delay = RETRY_MIN
        link = self._link
        while True:
            try:
                early = await link.subscribe([self._events_channel, self._beats_channel])
                log.info("subscribed to %s (%s)", link.name, self._events_channel)
                for channel, data in early:
                    self._on_message(channel, data)
                delay = RETRY_MIN
                self.linked.set()
                await self._catch_up()
                self._outbox_ready.set()  # the pump announces what it could not publish
                while True:
                    message = await link.receive(RECEIVE_WAIT)
                    if message is not None:
                        self._on_message(*message)
            except link.errors as exc:
                if self.linked.is_set():
                    log.warning(
                        "lost %s (%s); tailing the database until it is back", link.name, exc
                    )
                self.linked.clear()
            except Exception:
                log.exception("the %s listener failed; starting it again", link.name)
                self.linked.clear()
            finally:
                await link.unsubscribe()
            await self._catch_up()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    def _on_message(self, channel: str, data: bytes) -> None:
        try:
            if channel == self._events_channel:
                self._on_envelope(_decode_envelope(data))
            elif channel == self._beats_channel:
                self._on_beat(_decode_beat(data))
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
            self._filling = asyncio.create_task(self._fill(), name="hub-fill")

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
        except Exception as exc:  # the database is down, or restarting: the next round retries
            log.warning("reading missed events back from the database failed (%r); will retry", exc)
        finally:
            self._filling = None
            self._watch_gap()

    async def _catch_up(self) -> None:
        """Everything committed so far that this process has not released: read it back now."""
        try:
            last = await self._backfill.last_id()
        except Exception as exc:  # the database is down, or restarting: the next round retries
            log.warning("could not read the last comment id (%r); will retry", exc)
            return
        with self.batch():
            self._reorder.mark(last)
        if self._reorder.blocked and self._filling is None:
            self._filling = asyncio.create_task(self._fill(), name="hub-fill")

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
                if self.linked.is_set():
                    # Subscribed, yet the publish failed: nothing else would send the marker
                    # before the next comment, and the others' readers would wait for it.
                    loop = asyncio.get_running_loop()
                    loop.call_later(RETRY_MAX, self._outbox_ready.set)

    async def _send(self, events: list[_Event]) -> bool:
        if not self.linked.is_set():
            return False
        self._sent += 1
        envelope = _Envelope(self.origin, self._sent, events)
        try:
            await self._link.publish(self._events_channel, _encode(envelope))
        except self._link.errors as exc:
            log.warning(
                "publish to %s failed (%s); the others will read it back", self._link.name, exc
            )
            return False
        except Exception:  # whatever the client library raises, the pump must go on
            log.exception("publish to %s failed; the others will read it back", self._link.name)
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
            with contextlib.suppress(*self._link.errors):
                await self._link.publish(self._beats_channel, _encode(_Beat(self.origin, counts)))
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
