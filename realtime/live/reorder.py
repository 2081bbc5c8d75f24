"""Events from several processes put back into comment-id order (sans I/O; `network_hub` drives
it).

Both stores hand out comment ids in commit order, one writer at a time (SQLite's write lock,
PostgreSQL's writer lock), and an id drawn by a transaction that rolls back is never published.
So once comment N is committed, every smaller id is committed too or never will be: the ids are
the sequence, and a process that has seen N knows what it is waiting for.

Each event carries a key. A comment's key is its id: it is released only when every smaller id has
been released or resolved. Any other event (count, edit, delete) carries the id of the last comment
its own process published, and is released right after that comment: each process's events keep
that process's commit order. An id that is missing (lost on the way, or never published because it
is held for moderation) is resolved by `fill` from the database after a bounded wait; it never
stalls the stream. A comment that arrives below the watermark is delivered at once unless `fill`
already delivered it: that is a comment published late, such as one approved by a moderator.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from realtime.live.hub import Message

Deliver = Callable[[str, Message], None]
# How many ids that `fill` delivered are remembered, to drop their late duplicates.
REMEMBER_FILLED = 65536


@dataclass(order=True, slots=True)
class _Held:
    key: int
    rank: int  # 0: the comment whose id is `key`; 1: an event that follows comment `key`
    seq: int  # arrival order breaks ties
    topic: str = field(compare=False)
    message: Message | None = field(compare=False)  # None: a marker that only moves `known`


class Reorder:
    def __init__(self, deliver: Deliver, next_id: int) -> None:
        self._deliver = deliver
        self.next_id = next_id  # the smallest id not yet released or resolved
        self.known = next_id - 1  # the highest id known to be committed
        self._heap: list[_Held] = []
        self._held: set[int] = set()
        self._absent: set[int] = set()
        self._filled: OrderedDict[int, None] = OrderedDict()
        self._seq = 0
        self.waited = 0  # comments that arrived before a smaller id and were held for it
        self.read_back = 0  # comments delivered from the database instead of from their publisher

    @property
    def blocked(self) -> bool:
        """Something is held back, waiting for a smaller id."""
        return bool(self._heap)

    def push(self, topic: str, message: Message, key: int) -> bool:
        """Take one event; release whatever it unblocks. False: a duplicate, dropped."""
        comment_id = message.comment_id
        if comment_id is None:
            self._hold(key, 1, topic, message)
        elif comment_id < self.next_id:
            if comment_id in self._filled:
                return False
            self._deliver(topic, message)  # published late (approved), not a duplicate
            return True
        elif comment_id in self._held:
            return False
        else:
            self._held.add(comment_id)
            self._hold(comment_id, 0, topic, message)
            self.waited += comment_id != self.next_id
        self._release()
        return True

    def mark(self, key: int) -> None:
        """Every id up to `key` is committed: wait for them (and fill them if they do not come)."""
        self._hold(key, 1, "", None)
        self._release()

    def wanted(self) -> tuple[int, int] | None:
        """The ids to read from the database to unblock everything held, if anything is."""
        if not self._heap:
            return None
        return self.next_id, self.known

    def fill(self, first: int, last: int, found: dict[int, list[tuple[str, Message]]]) -> None:
        """Resolve ids [first, last] from the database: `found` has the published ones' events."""
        for comment_id in range(max(first, self.next_id), last + 1):
            if comment_id in self._held:
                continue  # it came on its own meanwhile
            events = found.get(comment_id)
            if not events:
                self._absent.add(comment_id)
                continue
            self._remember(comment_id)
            self.read_back += 1
            self._held.add(comment_id)
            (topic, message), *rest = events
            self._hold(comment_id, 0, topic, message)
            for topic, message in rest:
                self._hold(comment_id, 1, topic, message)
        self._release()

    def _hold(self, key: int, rank: int, topic: str, message: Message | None) -> None:
        self.known = max(self.known, key)
        self._seq += 1
        heapq.heappush(self._heap, _Held(key, rank, self._seq, topic, message))

    def _release(self) -> None:
        heap = self._heap
        while True:
            while self.next_id in self._absent:
                self._absent.discard(self.next_id)
                self.next_id += 1
            if not heap:
                return
            head = heap[0]
            if head.rank == 0 and head.key == self.next_id:
                self.next_id += 1
                self._held.discard(head.key)
                fresh = True
            elif head.key < self.next_id:
                fresh = head.rank == 1  # (a comment below the watermark is never held)
            else:
                return  # waiting for `next_id`
            heapq.heappop(heap)
            if fresh and head.message is not None:
                self._deliver(head.topic, head.message)

    def _remember(self, comment_id: int) -> None:
        self._filled[comment_id] = None
        if len(self._filled) > REMEMBER_FILLED:
            self._filled.popitem(last=False)
