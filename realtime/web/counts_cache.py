"""`GET /api/counts` answered from memory: the encoded answer per article list, until a count
of one of its articles changes.

A page of article links asks for the same counts on every view, and a count changes only when a
comment is published or removed, which the hub announces on the article's count topic
(`Hub.observe`: this process's own commits and, on a networked hub, the other processes'). Each
such event drops the cached answers that include that article. Writes that announce nothing
(`realtime import` run beside a live server) are caught by the age limit: no answer is older
than `max_age` (the `counts_cache_seconds` setting; 0 turns the cache off).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from realtime.topics import COUNT_PREFIX

MAX_ENTRIES = 1024


class CountsCache:
    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._answers: dict[str, tuple[bytes, float, list[str]]] = {}
        self._lists_with: dict[str, set[str]] = {}  # slug -> keys of the answers that include it
        self.changes = 0  # count events seen; an answer read before one is not kept
        self.hits = 0

    def get(self, key: str) -> bytes | None:
        entry = self._answers.get(key)
        if entry is None:
            return None
        body, expires, _ = entry
        if self._clock() > expires:
            self._drop(key)
            return None
        self.hits += 1
        return body

    def put(self, key: str, slugs: list[str], body: bytes, changes_before: int) -> None:
        """Keep `body` for `key`, unless a count changed while it was being read."""
        if changes_before != self.changes or self.max_age <= 0:
            return
        if len(self._answers) >= MAX_ENTRIES:
            self._drop(next(iter(self._answers)))  # the oldest
        self._answers[key] = (body, self._clock() + self.max_age, slugs)
        for slug in slugs:
            self._lists_with.setdefault(slug, set()).add(key)

    def changed(self, topic: str) -> None:
        """A count event (`Hub.observe`): drop every answer that includes its article."""
        self.changes += 1
        for key in self._lists_with.pop(topic[len(COUNT_PREFIX) :], ()):
            self._drop(key)

    def _drop(self, key: str) -> None:
        entry = self._answers.pop(key, None)
        if entry is None:
            return
        for slug in entry[2]:
            keys = self._lists_with.get(slug)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._lists_with[slug]
