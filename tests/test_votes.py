"""Votes and pins: one vote per voter per comment, counters in the same transaction, the rules
and refusals, coalesced live `vote` events, and pinned comments first for everyone, live."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from realtime.live.coalesce import Coalescer
from realtime.live.hub import Hub
from realtime.models import ArticleIn, CommentIn, VoteIn
from realtime.service import CommentService
from realtime.store import Store
from realtime.topics import article_topic
from tests.conftest import ADMIN, SLUG, STORES, post_comment
from tests.servers import UNIT, ThreadServer, make_settings
from tests.wsclient import Reader

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def voter() -> str:
    return secrets.token_urlsafe(32)


async def vote(
    client: httpx.AsyncClient, comment_id: int, value: int, token: str, **headers: str
) -> httpx.Response:
    return await client.post(
        f"/api/comments/{comment_id}/vote", json={"voter": token, "value": value}, headers=headers
    )


async def new_comment(client: httpx.AsyncClient, slug: str = SLUG, **fields: Any) -> int:
    response = await post_comment(client, slug, **fields)
    assert response.status_code == 201, response.text
    comment_id: int = response.json()["comment"]["id"]
    return comment_id


@pytest.mark.parametrize("store_kind", STORES)
async def test_one_vote_per_voter_which_they_can_change_or_take_back(
    client: httpx.AsyncClient, article: str
) -> None:
    """Up, up again (still one), down, back (0); two voters add up; the comment carries it."""
    comment = await new_comment(client)
    kari, ola = voter(), voter()
    answers = [(await vote(client, comment, value, kari)).json() for value in (1, 1, -1, 0, 1)]
    assert [(a["score"], a["up"], a["down"]) for a in answers] == [
        (1, 1, 0),
        (1, 1, 0),
        (-1, 0, 1),
        (0, 0, 0),
        (1, 1, 0),
    ]
    assert (await vote(client, comment, -1, ola)).json() == {
        "id": comment,
        "score": 0,
        "up": 1,
        "down": 1,
    }
    shown = (await client.get(f"/api/comments/{comment}")).json()
    assert (shown["score"], shown["up"], shown["down"]) == (0, 1, 1)
    page = (await client.get(f"/api/articles/{article}/comments")).json()
    assert page["comments"][0]["up"] == 1 and page["comments"][0]["down"] == 1


@pytest.mark.parametrize("store_kind", STORES)
async def test_vote_refusals(client: httpx.AsyncClient, article: str) -> None:
    """Own comment (voter token or author token) 403; deleted, held or unknown 404; closed 403;
    bad bodies 400/422; nothing changes."""
    mine = voter()
    created = (await post_comment(client, article, body="Mine.", voter=mine)).json()
    own_id, own_token = created["comment"]["id"], created["token"]
    assert (await vote(client, own_id, 1, mine)).status_code == 403
    by_author = await vote(client, own_id, 1, voter(), Authorization=f"Bearer {own_token}")
    assert by_author.status_code == 403
    gone = await new_comment(client, body="Going.")
    assert (await client.delete(f"/api/comments/{gone}", headers=AUTH)).status_code == 204
    assert (await vote(client, gone, 1, voter())).status_code == 404
    assert (await vote(client, 10**9, 1, voter())).status_code == 404
    for bad in ({"voter": "short", "value": 1}, {"voter": voter(), "value": 2}, {"value": 1}):
        answer = await client.post(f"/api/comments/{own_id}/vote", json=bad)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid"
    assert (await client.post(f"/api/comments/{own_id}/vote", content=b"{")).status_code in (
        400,
        415,
    )
    await client.post(f"/api/admin/articles/{article}/close", headers=AUTH)
    closed = await vote(client, own_id, 1, voter())
    assert closed.status_code == 403
    shown = (await client.get(f"/api/comments/{own_id}")).json()
    assert (shown["score"], shown["up"], shown["down"]) == (0, 0, 0)


async def test_votes_on_held_comments_are_not_found(
    start_server: Callable[..., ThreadServer],
) -> None:
    """A held comment's queue id is not a comment: 404, and the queue is untouched."""
    server = start_server(moderation="all")
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.put(f"/api/articles/{SLUG}", json={"title": "T"}, headers=AUTH)
        held = (await post_comment(http, SLUG)).json()
        assert held["status"] == "pending"
        assert (await vote(http, held["comment"]["id"], 1, voter())).status_code == 404


async def test_votes_setting_up_and_off(start_server: Callable[..., ThreadServer]) -> None:
    """votes = "up" refuses down votes (422); votes = "off" refuses every vote (403)."""
    for mode, down, up in (("up", 422, 200), ("off", 403, 403)):
        server = start_server(votes=mode)
        async with httpx.AsyncClient(base_url=server.url) as http:
            await http.put(f"/api/articles/{SLUG}", json={"title": "T"}, headers=AUTH)
            comment = await new_comment(http)
            assert (await vote(http, comment, -1, voter())).status_code == down
            assert (await vote(http, comment, 1, voter())).status_code == up
            config = (await http.get("/api/config")).json()
            assert config["votes"] == mode


async def test_votes_are_limited_per_client(start_server: Callable[..., ThreadServer]) -> None:
    """With the limits on, a client past its vote burst gets 429 with Retry-After."""
    server = start_server(rate_limit="on", vote_burst=3, votes_per_minute=1)
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.put(f"/api/articles/{SLUG}", json={"title": "T"}, headers=AUTH)
        comment = await new_comment(http)
        statuses = [(await vote(http, comment, 1, voter())).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await vote(http, comment, 1, voter())
        assert refused.headers["retry-after"].isdigit()


async def test_voter_tokens_never_leave_the_server(
    server: ThreadServer, client: httpx.AsyncClient, article: str, tmp_path: Path
) -> None:
    """Neither the voter token nor its hash is in any answer, event or the export."""
    token = voter()
    reader = await Reader.open(f"{server.ws_url}/ws/articles/{article}")
    comment = await new_comment(client, voter=token)
    answer = await vote(client, comment, 1, voter())
    seen = [json.dumps(await reader.next_of("vote"))]
    seen += [answer.text, (await client.get(f"/api/articles/{article}/comments")).text]
    seen += [(await client.get(f"/api/comments/{comment}")).text]
    await reader.close()
    await asyncio.to_thread(_export, server.settings.db, tmp_path / "out.jsonl")
    seen.append((tmp_path / "out.jsonl").read_text())
    assert not any(token in text for text in seen)
    assert not any("voter" in text for text in seen[1:])


def _export(db: str, target: Path) -> None:
    from realtime.cli import main

    assert main(["--db", db, "export", str(target)]) == 0


async def test_vote_events_reach_readers(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Each change is pushed as {"type":"vote","id","score","up","down"}; a repeated vote that
    changes nothing is not."""
    comment = await new_comment(client)
    reader = await Reader.open(f"{server.ws_url}/ws/articles/{article}")
    assert (await reader.next())["type"] == "hello"
    token = voter()
    await vote(client, comment, 1, token)
    event = await reader.next_of("vote")
    assert {k: event[k] for k in ("id", "score", "up", "down")} == {
        "id": comment,
        "score": 1,
        "up": 1,
        "down": 0,
    }
    await vote(client, comment, 1, token)  # no change: no event
    await vote(client, comment, -1, token)
    event = await reader.next_of("vote", timeout=3)
    assert (event["score"], event["up"], event["down"]) == (-1, 0, 1)
    await reader.close()


async def test_a_thousand_votes_in_a_second_are_at_most_ten_events(tmp_path: Path) -> None:
    """1,000 votes on one comment at once: readers get at most 10 `vote` events (the coalescer
    sends at most 4 per second), and the last one carries the exact final score."""
    settings = make_settings(tmp_path / "db.sqlite", rate_limit="off")
    store = await Store.open(settings.db)
    hub = Hub(settings.reader_backlog_bytes)
    svc = CommentService(settings, store, hub)
    try:
        await svc.put_article("a", ArticleIn(title="A"))
        comment = (await svc.post("a", CommentIn(author="Kari", body="Vote!"))).comment.id
        async with hub.subscribe([article_topic("a")]) as reader:
            ballots = [VoteIn(voter=voter(), value=-1 if n % 4 == 0 else 1) for n in range(1000)]
            started = time.monotonic()
            await asyncio.gather(*(svc.votes.vote(comment, b, None, None) for b in ballots))
            elapsed = time.monotonic() - started
            events: list[tuple[float, dict[str, Any]]] = []
            async with asyncio.timeout(5 * UNIT):
                while not events or events[-1][1]["score"] != 500:
                    batch = await reader.drain()
                    events += [(time.monotonic(), json.loads(m.text)) for m in batch]
            events += await _more(reader)
        print(f"1,000 votes committed in {elapsed:.2f} s; {len(events)} events")
        votes = [event for _, event in events if event["type"] == "vote"]
        assert 2 <= len(votes) <= 10, len(votes)
        assert (votes[-1]["score"], votes[-1]["up"], votes[-1]["down"]) == (500, 750, 250)
        assert [v["seq"] for v in votes] == sorted(v["seq"] for v in votes)
        assert votes[-1]["seq"] == 1000
        assert (await store.get_comment(comment)).score == 500  # type: ignore[union-attr]
    finally:
        await store.close()


async def _more(reader: Any) -> list[tuple[float, dict[str, Any]]]:
    """Whatever else arrives within two more intervals (nothing should)."""
    try:
        async with asyncio.timeout(0.5 * UNIT):
            return [(time.monotonic(), json.loads(m.text)) for m in await reader.drain()]
    except TimeoutError:
        return []


async def test_coalescer_sends_the_first_at_once_then_one_per_interval() -> None:
    """However long a burst lasts: the first value at once, then at most one per interval, each
    the newest offered; a key that goes quiet is forgotten, and flush sends what waits."""
    loop = asyncio.get_running_loop()
    sent: list[tuple[float, str, int]] = []
    coalescer: Coalescer[str, int] = Coalescer(0.1, lambda k, v: sent.append((loop.time(), k, v)))
    started = loop.time()
    coalescer.offer("a", 1)
    assert [value for _, _, value in sent] == [1]  # the first goes out at once
    for n in range(2, 61):  # 60 values over ~0.6 s
        await asyncio.sleep(0.01)
        coalescer.offer("a", n)
    coalescer.offer("b", 1)
    await asyncio.sleep(0.35)
    a_sent = [(moment, value) for moment, key, value in sent if key == "a"]
    assert a_sent[-1][1] == 60  # the last value offered always goes out
    gaps = [later[0] - earlier[0] for earlier, later in zip(a_sent, a_sent[1:], strict=False)]
    assert all(gap >= 0.099 for gap in gaps), gaps
    assert len(a_sent) <= 1 + (a_sent[-1][0] - started) / 0.1 + 1
    assert [value for _, key, value in sent if key == "b"] == [1]
    assert coalescer._slots == {}  # quiet keys are forgotten
    coalescer.offer("c", 1)
    coalescer.offer("c", 2)
    coalescer.flush()
    assert [value for _, key, value in sent if key == "c"] == [1, 2]


# ---- pins -----------------------------------------------------------------------------------


@pytest.mark.parametrize("store_kind", STORES)
async def test_pin_and_unpin(server: ThreadServer, client: httpx.AsyncClient, article: str) -> None:
    """Admin only; top-level only (409 for a reply); a `pin` event; pinned first on every sorted
    page; the flag on the comment."""
    first = await new_comment(client, body="First.")
    second = await new_comment(client, body="Second.")
    reply = await new_comment(client, body="Reply.", parent=first)
    assert (await client.post(f"/api/admin/comments/{second}/pin")).status_code == 401
    bad = await client.post(
        f"/api/admin/comments/{second}/pin", headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 403
    assert (await client.post(f"/api/admin/comments/{reply}/pin", headers=AUTH)).status_code == 409
    assert (await client.post("/api/admin/comments/999/pin", headers=AUTH)).status_code == 404
    reader = await Reader.open(f"{server.ws_url}/ws/articles/{article}")
    pinned = await client.post(f"/api/admin/comments/{second}/pin", headers=AUTH)
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    event = await reader.next_of("pin")
    assert (event["id"], event["pinned"]) == (second, True)
    for sort in ("oldest", "newest", "top"):
        page = (await client.get(f"/api/articles/{article}/comments?sort={sort}")).json()
        assert [c["id"] for c in page["comments"]][0] == second, sort
    flat = (await client.get(f"/api/articles/{article}/comments")).json()
    assert [c["id"] for c in flat["comments"]] == [first, second, reply]  # the contract's order
    unpinned = await client.post(f"/api/admin/comments/{second}/unpin", headers=AUTH)
    assert unpinned.json()["pinned"] is False
    assert (await reader.next_of("pin"))["pinned"] is False
    page = (await client.get(f"/api/articles/{article}/comments?sort=oldest")).json()
    assert [c["id"] for c in page["comments"]] == [first, reply, second]
    await reader.close()


async def test_a_reader_that_resumes_gets_pins_it_missed(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """A pin takes a change number: resuming with ?after=&rev= sends the comment again, pinned."""
    comment = await new_comment(client)
    page = (await client.get(f"/api/articles/{article}/comments")).json()
    await client.post(f"/api/admin/comments/{comment}/pin", headers=AUTH)
    url = f"{server.ws_url}/ws/articles/{article}?after={comment}&rev={page['rev']}"
    reader = await Reader.open(url)
    edit = await reader.next_of("edit")
    assert edit["comment"]["id"] == comment and edit["comment"]["pinned"] is True
    await reader.close()
