"""Posters: HTTP clients that post comments at a fixed total rate, each carrying its send time.

Each of the `posters` tasks has its own schedule (rate / posters comments a second, staggered so
the total is even); one that falls behind posts at once until it is back on schedule, so the total
rate holds while the server keeps up. With rate 0 every poster posts as fast as it can. Articles
take the comments in turn. Only 201 answers count as acknowledged; the ids they return are what
the readers must receive.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import msgspec

from realtime.loadtest.histogram import Histogram
from realtime.loadtest.protocol import marker
from realtime.models import CommentCreated, CommentIn

_encode = msgspec.json.Encoder().encode
_created = msgspec.json.Decoder(CommentCreated).decode
HEADERS = {"content-type": "application/json"}


def pad(chars: int) -> str:
    """`chars` characters of filler text ending in a blank line; nothing when `chars` < 2."""
    if chars < 2:
        return ""
    return ("lorem ipsum " * (chars // 12 + 1))[: chars - 2] + "\n\n"


class PostStats:
    def __init__(self, slugs: list[str], t_base: float, bin_seconds: float) -> None:
        self.t_base = t_base
        self.bin_seconds = bin_seconds
        self.sent = 0
        self.statuses: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.latency = Histogram()
        self.ids: dict[str, list[int]] = {slug: [] for slug in slugs}
        self.timeline: dict[int, int] = {}
        self.first_sent: float | None = None
        self.last_sent: float | None = None

    @property
    def acknowledged(self) -> int:
        return sum(len(ids) for ids in self.ids.values())

    def count(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1

    def sending(self, now: float) -> None:
        self.sent += 1
        self.first_sent = self.first_sent or now
        self.last_sent = now
        slot = int((now - self.t_base) / self.bin_seconds)
        self.timeline[slot] = self.timeline.get(slot, 0) + 1


class Posters:
    def __init__(
        self,
        client: httpx.AsyncClient,
        slugs: list[str],
        run_id: str,
        stats: PostStats,
        body_bytes: int = 0,
    ) -> None:
        self.client = client
        self.body_bytes = body_bytes
        self.slugs = slugs
        self.run_id = run_id
        self.stats = stats
        self._next = 0

    async def run(self, posters: int, rate: float, duration: float, limit: int | None) -> None:
        start = time.monotonic()
        stop = start + duration
        interval = posters / rate if rate > 0 else 0.0
        await asyncio.gather(
            *(
                self._poster(n, start + n * interval / posters, interval, stop, limit)
                for n in range(posters)
            )
        )

    async def _poster(
        self, n: int, first: float, interval: float, stop: float, limit: int | None
    ) -> None:
        due, k = first, 0
        while due < stop and (limit is None or self._next < limit):
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if limit is not None and self._next >= limit:
                return
            number = self._next
            self._next += 1
            await self.post(self.slugs[number % len(self.slugs)], number, n)
            k += 1
            due = first + k * interval if interval else time.monotonic()

    async def post(self, slug: str, number: int, poster: int) -> None:
        sent = time.time()
        text = f"Load test comment {number + 1} from poster {poster + 1}.\n\n"
        tail = marker(self.run_id, sent)  # stays last: readers find the send time at the end
        text += pad(self.body_bytes - len(text) - len(tail))
        body = _encode(CommentIn(author=f"loadtest-{poster + 1}", body=text + tail))
        self.stats.sending(sent)
        started = time.perf_counter()
        try:
            response = await self.client.post(
                f"/api/articles/{slug}/comments", content=body, headers=HEADERS
            )
        except httpx.HTTPError as exc:
            self.stats.count(self.stats.errors, type(exc).__name__)
            return
        self.stats.latency.record_seconds(time.perf_counter() - started)
        self.stats.count(self.stats.statuses, str(response.status_code))
        if response.status_code == 201:
            self.stats.ids[slug].append(_created(response.content).comment.id)
