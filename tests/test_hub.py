"""The in-process hub: fan-out of one encoded message, bounded backlogs, resume filtering."""

from __future__ import annotations

import asyncio

from realtime.live.hub import Hub, Message


class CollectingSink:
    """A real in-memory sink: records frames and reports a chosen unsent size."""

    def __init__(self, unsent: int = 0) -> None:
        self.frames: list[bytes] = []
        self.unsent = unsent

    def write(self, data: bytes) -> int:
        self.frames.append(data)
        return self.unsent


async def test_same_message_to_every_subscriber() -> None:
    """Publishing hands the very same Message object to every subscriber of the topic."""
    hub = Hub(1 << 20)
    message = Message.of(b'{"type":"pong"}')
    async with hub.subscribe(["t"]) as one, hub.subscribe(["t"]) as two:
        assert hub.subscribers("t") == 2
        hub.publish("t", message)
        hub.publish("other", Message.of(b"{}"))
        assert await one.drain() == [message]
        assert (await two.drain())[0] is message
    assert hub.subscribers("t") == 0


async def test_overflow_marks_only_the_slow_subscriber() -> None:
    """Past the byte bound a subscriber overflows and takes nothing more; others carry on."""
    hub = Hub(100)
    async with hub.subscribe(["t"]) as slow, hub.subscribe(["t"]) as fast:
        for n in range(10):
            hub.publish("t", Message.of(b'{"n":"' + b"x" * 20 + str(n).encode() + b'"}'))
            await fast.drain()
        assert slow.overflowed and not fast.overflowed


async def test_resume_drops_ids_already_sent() -> None:
    """Comment events at or below the resume point are dropped, others kept in order."""
    hub = Hub(1 << 20)
    async with hub.subscribe(["t"]) as subscriber:
        for comment_id in (3, 4, 5):
            hub.publish("t", Message.of(b'{"c":%d}' % comment_id, comment_id))
        hub.publish("t", Message.of(b'{"type":"watchers","count":1}'))
        subscriber.resume_after(4)
        assert [m.comment_id for m in await subscriber.drain()] == [5, None]


async def test_attached_sink_gets_backlog_then_live_frames() -> None:
    """After attach, the backlog is flushed and each publish writes straight to the sink."""
    hub = Hub(1000)
    sink = CollectingSink()
    async with hub.subscribe(["t"]) as subscriber:
        hub.publish("t", Message.of(b'{"c":1}', 1))
        subscriber.resume_after(0)
        subscriber.attach(sink)
        hub.publish("t", Message.of(b'{"c":2}', 2))
        hub.publish("t", Message.of(b'{"c":2}', 2))  # a duplicate id is never written twice
        assert [frame[2:] for frame in sink.frames] == [b'{"c":1}', b'{"c":2}']
        sink.unsent = 5000
        hub.publish("t", Message.of(b'{"c":3}', 3))
        assert subscriber.overflowed
        hub.publish("t", Message.of(b'{"c":4}', 4))
        assert len(sink.frames) == 3


async def test_changed_topics_for_watchers() -> None:
    """Joining and leaving mark a topic as changed, once per interval."""
    hub = Hub(1000)
    async with hub.subscribe(["a"]):
        assert hub.take_changed() == {"a"}
        assert hub.take_changed() == set()
    assert hub.take_changed() == {"a"}
    await asyncio.sleep(0)


async def test_batch_gives_each_reader_one_write() -> None:
    """Events published in one batch reach each attached reader as one joined write, in order."""
    hub = Hub(1 << 20)
    sinks = [CollectingSink(), CollectingSink()]
    async with hub.subscribe(["a", "count"]) as both, hub.subscribe(["a"]) as thread_only:
        for subscriber, sink in zip((both, thread_only), sinks, strict=True):
            subscriber.attach(sink)
        with hub.batch():
            hub.publish("a", Message.of(b'{"c":1}', 1))
            hub.publish("count", Message.of(b'{"n":1}'))
            hub.publish("a", Message.of(b'{"c":2}', 2))
            assert sinks[0].frames == []  # held until the batch ends
        first = Message.of(b'{"c":1}', 1).frame
        count = Message.of(b'{"n":1}').frame
        second = Message.of(b'{"c":2}', 2).frame
        assert sinks[0].frames == [first + count + second]
        assert sinks[1].frames == [first + second]
        hub.publish("a", Message.of(b'{"c":3}', 3))  # outside a batch: written at once
        assert len(sinks[1].frames) == 2


class CollectingEvents:
    """A real in-memory event sink: records the fresh messages it is handed, in batches."""

    def __init__(self) -> None:
        self.batches: list[list[Message]] = []
        self.unsent = 0

    def send(self, messages: list[Message]) -> int:
        self.batches.append(messages)
        return self.unsent


async def test_event_sink_gets_fresh_messages_backlog_first() -> None:
    """attach_events: the backlog, then each publish, as Messages; replayed ids and changes are
    dropped, a batch is one call, and past the bound the subscriber overflows."""
    hub = Hub(1000)
    sink = CollectingEvents()
    async with hub.subscribe(["t"]) as subscriber:
        for message in (Message.of(b"{}", 1), Message.of(b"{}", rev=4), Message.of(b"{}", 2)):
            hub.publish("t", message)
        subscriber.resume_after(1, 4)
        subscriber.attach_events(sink)
        with hub.batch():
            hub.publish("t", Message.of(b'{"w":1}'))
            hub.publish("t", Message.of(b"{}", rev=5))
        assert [[(m.comment_id, m.rev) for m in batch] for batch in sink.batches] == [
            [(2, None)],
            [(None, None), (None, 5)],
        ]
        assert sink.batches[0][0].sse == b"data: {}\n"
        sink.unsent = 5000
        hub.publish("t", Message.of(b"{}", 3))
        assert subscriber.overflowed
        hub.publish("t", Message.of(b"{}", 4))
        assert len(sink.batches) == 3
