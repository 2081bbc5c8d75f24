"""What every load-test reader keeps, whatever its transport: the shared tally of deliveries and
latency, and each reader's own correctness record (ids once each, in increasing order)."""

from __future__ import annotations

import bisect
from array import array

import msgspec

from realtime.loadtest.histogram import Histogram
from realtime.loadtest.protocol import Spec, sent_at
from realtime.models import CommentEvent, ServerEvent

_decode = msgspec.json.Decoder(ServerEvent).decode


def decode_event(data: bytes) -> ServerEvent | None:
    """One server event; None for a message type newer than this client (the API may add them)."""
    try:
        return _decode(data)
    except msgspec.MsgspecError:
        return None


class Tally:
    """What all readers of this process share: deliveries, latency, deliveries over time."""

    def __init__(self, spec: Spec) -> None:
        self.run_id = spec.run_id
        self.t_base = spec.t_base
        self.bin_seconds = spec.bin_seconds
        self.deliveries = 0
        self.last_delivery = 0.0
        self.other_messages = 0
        self.latency = Histogram()
        self.timeline: dict[int, int] = {}

    def delivered(self, sent: float, now: float) -> None:
        self.deliveries += 1
        self.last_delivery = now
        self.latency.record_seconds(now - sent)
        slot = int((now - self.t_base) / self.bin_seconds)
        self.timeline[slot] = self.timeline.get(slot, 0) + 1


class Record:
    """One reader's correctness record; `Reader` (WebSocket) and `SseReader` add the transport."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.last = 0
        self.ids = array("q")  # ids in arrival order; increasing, so searchable
        self.late: set[int] = set()  # ids that arrived below `last`
        self.duplicated = 0
        self.out_of_order = 0
        self.close_code: int | None = None
        self.finished = False

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    async def open(self, url: str, timeout: float) -> float:
        """Connect and read `hello`; return the seconds it took."""
        raise NotImplementedError

    async def listen(self, tally: Tally) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def abandon(self) -> None:
        """A failed connect: close what was opened; the reader is not counted as connected."""
        raise NotImplementedError

    @property
    def unique(self) -> int:
        return len(self.ids) + len(self.late)

    def saw(self, comment_id: int) -> None:
        if comment_id > self.last:
            self.ids.append(comment_id)
            self.last = comment_id
            return
        at = bisect.bisect_left(self.ids, comment_id)
        if (at < len(self.ids) and self.ids[at] == comment_id) or comment_id in self.late:
            self.duplicated += 1
        else:
            self.out_of_order += 1
            self.late.add(comment_id)

    def record(self, event: ServerEvent | None, tally: Tally, now: float) -> None:
        """Count one received event: a comment of this run is timed and checked."""
        if isinstance(event, CommentEvent):
            sent = sent_at(event.comment.body, tally.run_id)
            if sent is not None:
                tally.delivered(sent, now)
                self.saw(event.comment.id)
                return
        tally.other_messages += 1  # watchers, edits, someone else's comment, ...


class ProtocolError(Exception):
    """The server answered, but not as the API says."""
