"""Sorted pages of threads (?sort=oldest|newest|top): roots in order, each with all its replies
under it; cursor paging both ways; the contract's own page unchanged; and the refusals."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, STORES, post_comment

pytestmark = pytest.mark.parametrize("store_kind", STORES)
AUTH = {"Authorization": f"Bearer {ADMIN}"}


async def comment(client: httpx.AsyncClient, slug: str, body: str, **fields: Any) -> int:
    response = await post_comment(client, slug, body=body, **fields)
    assert response.status_code == 201, response.text
    found: int = response.json()["comment"]["id"]
    return found


async def page(client: httpx.AsyncClient, slug: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/api/articles/{slug}/comments", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def upvote(client: httpx.AsyncClient, comment_id: int, times: int) -> None:
    for _ in range(times):
        token = secrets.token_urlsafe(16)
        answer = await client.post(
            f"/api/comments/{comment_id}/vote", json={"voter": token, "value": 1}
        )
        assert answer.status_code == 200


async def thread(client: httpx.AsyncClient, slug: str) -> dict[str, int]:
    """Roots r1..r5 (r2 with a reply chain two deep), scores r3 > r5 > others."""
    ids: dict[str, int] = {}
    for n in range(1, 6):
        ids[f"r{n}"] = await comment(client, slug, f"root {n}")
        if n == 2:
            ids["r2a"] = await comment(client, slug, "reply", parent=ids["r2"])
            ids["r2b"] = await comment(client, slug, "reply to reply", parent=ids["r2a"])
    ids["r1a"] = await comment(client, slug, "late reply to r1", parent=ids["r1"])
    await upvote(client, ids["r3"], 3)
    await upvote(client, ids["r5"], 1)
    return ids


async def test_each_order_keeps_replies_under_their_roots(
    client: httpx.AsyncClient, article: str
) -> None:
    """oldest, newest and top list roots in their order, each followed by its whole thread."""
    ids = await thread(client, article)
    r = ids
    expected = {
        "oldest": [r["r1"], r["r1a"], r["r2"], r["r2a"], r["r2b"], r["r3"], r["r4"], r["r5"]],
        "newest": [r["r5"], r["r4"], r["r3"], r["r2"], r["r2a"], r["r2b"], r["r1"], r["r1a"]],
        "top": [r["r3"], r["r5"], r["r1"], r["r1a"], r["r2"], r["r2a"], r["r2b"], r["r4"]],
    }
    for sort, order in expected.items():
        found = await page(client, article, sort=sort)
        assert [c["id"] for c in found["comments"]] == order, sort
        assert found["sort"] == sort and found["count"] == 8
        assert found["next"] is None and found["cursor"] is None and found["prev"] is None
        assert found["last"] == r["r1a"]


async def test_cursor_pages_forward_and_back(client: httpx.AsyncClient, article: str) -> None:
    """limit counts roots; `cursor` goes on, `prev` comes back, in every order; ids work too."""
    ids = await thread(client, article)
    for sort in ("oldest", "newest", "top"):
        first = await page(client, article, sort=sort)
        roots = [c["id"] for c in first["comments"] if c["parent"] is None]
        seen: list[int] = []
        cursor = None
        pages = []
        while True:
            params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
            found = await page(client, article, **params)
            pages.append(found)
            seen += [c["id"] for c in found["comments"] if c["parent"] is None]
            cursor = found["cursor"]
            if cursor is None:
                assert found["next"] is None
                break
            assert found["next"] == seen[-1]
        assert seen == roots, sort
        assert pages[0]["prev"] is None and all(p["prev"] for p in pages[1:])
        back = await page(client, article, sort=sort, limit=2, cursor=pages[-1]["prev"])
        assert back["comments"] == pages[-2]["comments"], sort
    # In oldest and newest an id is a cursor too.
    after = await page(client, article, sort="oldest", after=ids["r2"], limit=1)
    assert [c["id"] for c in after["comments"]] == [ids["r3"]]
    before = await page(client, article, sort="newest", before=ids["r3"], limit=1)
    assert [c["id"] for c in before["comments"]] == [ids["r2"], ids["r2a"], ids["r2b"]]


async def test_the_contract_page_is_unchanged(client: httpx.AsyncClient, article: str) -> None:
    """Without sort: every comment in id order, `next` the after of the following page."""
    ids = await thread(client, article)
    first = await page(client, article, limit=3)
    assert [c["id"] for c in first["comments"]] == sorted(ids.values())[:3]
    assert first["next"] == sorted(ids.values())[2]
    assert set(first) == {"article", "count", "comments", "next", "rev"}


async def test_sorted_paging_refusals(client: httpx.AsyncClient, article: str) -> None:
    """An unknown order or a bad limit: 422 naming the parameter. A cursor this server did not
    give, or one of another order, names no page: 404; so does a top id that is no comment."""
    await thread(client, article)
    top = await page(client, article, sort="top", limit=1)
    cases = [
        ({"sort": "best"}, 422, "sort"),
        ({"sort": "oldest", "limit": 0}, 422, "limit"),
        ({"sort": "oldest", "limit": 501}, 422, "limit"),
        ({"sort": "oldest", "before": -1}, 422, "before"),
        ({"sort": "newest", "cursor": top["cursor"]}, 404, "cursor"),
        ({"sort": "top", "cursor": "not-a-cursor!"}, 404, "cursor"),
        ({"cursor": "k6Zvb"}, 404, "cursor"),
        ({"sort": "top", "after": 10**9}, 404, "after"),
    ]
    for params, status, field in cases:
        answer = await client.get(f"/api/articles/{article}/comments", params=params)
        assert answer.status_code == status, (params, answer.text)
        assert answer.json()["error"]["field"] == field, params
    missing = await client.get("/api/articles/nothing-here/comments", params={"sort": "top"})
    assert missing.status_code == 404


async def test_ids_and_precedence(client: httpx.AsyncClient, article: str) -> None:
    """In top an id stands for its comment's place; a cursor wins over ids and carries its own
    order; before wins over after; before alone pages oldest."""
    ids = await thread(client, article)
    r = ids
    after_r3 = await page(client, article, sort="top", after=r["r3"], limit=1)
    assert after_r3["comments"][0]["id"] == r["r5"]  # next after the best one
    before_r1 = await page(client, article, sort="top", before=r["r1"], limit=1)
    assert before_r1["comments"][0]["id"] == r["r5"]
    newest = await page(client, article, sort="newest", limit=1)
    by_cursor = await page(client, article, cursor=newest["cursor"], after=1, limit=1)
    assert by_cursor["sort"] == "newest" and by_cursor["comments"][0]["id"] == r["r4"]
    both = await page(client, article, sort="oldest", after=r["r1"], before=r["r3"], limit=1)
    assert both["comments"][0]["id"] == r["r2"]  # before wins
    alone = await page(client, article, before=r["r2"])
    assert alone["sort"] == "oldest" and alone["comments"][0]["id"] == r["r1"]


async def test_a_removed_roots_replies_become_roots(
    client: httpx.AsyncClient, article: str
) -> None:
    """Deleting a comment with replies: its replies stay listed, as threads of their own."""
    root = await comment(client, article, "root")
    reply = await comment(client, article, "reply", parent=root)
    deeper = await comment(client, article, "deeper", parent=reply)
    assert (await client.delete(f"/api/comments/{root}", headers=AUTH)).status_code == 204
    found = await page(client, article, sort="oldest")
    assert [c["id"] for c in found["comments"]] == [reply, deeper]
