"""`GET /api/counts` from memory (`realtime.web.counts_cache`): every count change shows at once,
repeated lists are answered without the database, an answer read across a change is not kept."""

from __future__ import annotations

from typing import Any

import httpx

from realtime.live.hub import Hub, Message
from realtime.topics import count_topic
from realtime.web.counts_cache import MAX_ENTRIES, CountsCache
from tests.conftest import ADMIN, post_comment
from tests.servers import UNIT


async def test_every_change_shows_at_once(start_server: Any) -> None:
    """Posts, a deletion and an approval each show in the next answer, though answers are kept
    for an hour; the same list asked again is a hit."""
    server = start_server(counts_cache_seconds=3600, moderation="all")
    cache: CountsCache = server.app.state.counts_cache
    auth = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        for slug in ("a", "b"):
            await http.put(f"/api/articles/{slug}", json={"title": slug}, headers=auth)

        async def counts() -> dict[str, int]:
            answer: dict[str, int] = (await http.get("/api/counts?articles=a,b")).json()["counts"]
            return answer

        assert await counts() == {"a": 0, "b": 0}
        assert await counts() == {"a": 0, "b": 0} and cache.hits == 1
        held = (await post_comment(http, "a", body="held")).json()
        assert held["status"] == "pending"
        assert await counts() == {"a": 0, "b": 0}
        await http.post(f"/api/admin/pending/{held['comment']['id']}/approve", headers=auth)
        assert await counts() == {"a": 1, "b": 0}
        approved = (await http.get("/api/articles/a/comments")).json()["comments"][0]["id"]
        await http.delete(f"/api/comments/{approved}", headers=auth)
        assert await counts() == {"a": 0, "b": 0}
        assert (await http.get("/api/counts?articles=b")).json() == {"counts": {"b": 0}}
        assert (await http.get("/api/counts?articles=bad_slug")).status_code == 422


def test_a_change_drops_only_the_lists_with_that_article() -> None:
    """A count event on the hub drops the answers that include its article, and no others."""
    hub, cache = Hub(1024), CountsCache(3600)
    hub.observe("count:", cache.changed)
    cache.put("a,b", ["a", "b"], b"ab", cache.changes)
    cache.put("c", ["c"], b"c", cache.changes)
    hub.publish(count_topic("b"), Message.of(b'{"type":"count"}'))
    assert cache.get("a,b") is None and cache.get("c") == b"c"
    hub.publish("article:c", Message.of(b'{"type":"comment"}'))
    assert cache.get("c") == b"c"


def test_an_answer_read_across_a_change_is_not_kept() -> None:
    """If a count changed while the answer was being read, it may be stale: not cached."""
    cache = CountsCache(3600)
    before = cache.changes
    cache.changed(count_topic("a"))
    cache.put("a", ["a"], b"old", before)
    assert cache.get("a") is None


def test_age_and_size_bounds() -> None:
    """Answers expire after max_age (writes no event announces); the oldest go past MAX_ENTRIES;
    max_age 0 keeps nothing."""
    now = [0.0]
    cache = CountsCache(5, clock=lambda: now[0])
    cache.put("a", ["a"], b"a", 0)
    now[0] = 4.9
    assert cache.get("a") == b"a"
    now[0] = 5.1
    assert cache.get("a") is None
    for n in range(MAX_ENTRIES + 1):
        cache.put(f"s{n}", [f"s{n}"], b"x", 0)
    assert cache.get("s0") is None and cache.get(f"s{MAX_ENTRIES}") == b"x"
    off = CountsCache(0)
    off.put("a", ["a"], b"a", 0)
    assert off.get("a") is None
