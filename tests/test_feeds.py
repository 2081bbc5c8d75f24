"""Atom feeds (per article, site-wide) that a feed parser reads, with ETag and 304, no e-mail,
no held comment; recent comments as JSON; the article page links its feed."""

from __future__ import annotations

from collections.abc import Callable

import feedparser
import httpx
import pytest

from tests.conftest import ADMIN, SLUG, STORES, post_comment
from tests.servers import ThreadServer

pytestmark = pytest.mark.parametrize("store_kind", STORES)
AUTH = {"Authorization": f"Bearer {ADMIN}"}


async def test_article_feed_is_valid_atom_without_email_or_held_comments(
    start_server: Callable[..., ThreadServer],
) -> None:
    """Entries newest first, html content, the author's name only, held ones left out."""
    server = start_server(max_links=0)
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.put(f"/api/articles/{SLUG}", json={"title": "A & B <i>"}, headers=AUTH)
        first = await post_comment(http, SLUG, body="**Hello** there", email="kari@example.org")
        second = await post_comment(http, SLUG, body="Second", author="Per <script>")
        held = await post_comment(http, SLUG, body="See https://spam.example/")
        assert held.json()["status"] == "pending"
        response = await http.get(f"/feeds/articles/{SLUG}.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    assert "kari@example.org" not in response.text and "spam.example" not in response.text
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Comments on “A & B <i>”"
    ids = [second.json()["comment"]["id"], first.json()["comment"]["id"]]
    assert [entry.link.rsplit("-", 1)[1] for entry in feed.entries] == [str(i) for i in ids]
    assert feed.entries[0].author == "Per <script>"
    assert feed.entries[1].content[0].value == "<p><strong>Hello</strong> there</p>"
    assert feed.entries[1].content[0].type == "text/html"


async def test_feeds_answer_304_to_their_etag(server: ThreadServer, article: str) -> None:
    """If-None-Match with the ETag: 304 without a body; a new comment changes the ETag."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        await post_comment(http, article, body="one")
        for path in (f"/feeds/articles/{article}.atom", "/feeds/comments.atom"):
            first = await http.get(path)
            etag = first.headers["etag"]
            again = await http.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
            assert again.headers["etag"] == etag
            assert (await http.get(path, headers={"If-None-Match": '"other"'})).status_code == 200
        before = (await http.get("/feeds/comments.atom")).headers["etag"]
        await post_comment(http, article, body="two")
        changed = await http.get("/feeds/comments.atom", headers={"If-None-Match": before})
        assert changed.status_code == 200
        feed = feedparser.parse(changed.content)
        assert not feed.bozo and [e.summary for e in feed.entries][:1] == ["<p>two</p>"]


async def test_site_feed_and_unknown_article(client: httpx.AsyncClient, article: str) -> None:
    """The site's feed lists every article's comments; an unknown article's feed is 404."""
    await client.put("/api/articles/other", json={"title": "Other"}, headers=AUTH)
    await post_comment(client, article, body="here")
    await post_comment(client, "other", body="there")
    feed = feedparser.parse((await client.get("/feeds/comments.atom")).content)
    assert not feed.bozo
    assert [entry.title for entry in feed.entries] == [
        "Kari on “Other”",
        "Kari on “NATO annual report”",
    ]
    assert (await client.get("/feeds/articles/nope.atom")).status_code == 404
    empty = feedparser.parse((await client.get("/feeds/articles/other.atom")).content)
    assert not empty.bozo


async def test_recent_comments(client: httpx.AsyncClient, article: str) -> None:
    """GET /api/comments/recent: newest first across the site, titles beside, limit checked."""
    ids = [
        (await post_comment(client, article, body=f"n{n}")).json()["comment"]["id"]
        for n in range(3)
    ]
    recent = (await client.get("/api/comments/recent?limit=2")).json()
    assert [c["id"] for c in recent["comments"]] == ids[:0:-1]
    assert recent["titles"] == {article: "NATO annual report"}
    assert "email" not in recent["comments"][0]
    for bad in ("0", "101", "x"):
        answer = await client.get(f"/api/comments/recent?limit={bad}")
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "limit"


async def test_article_page_links_its_feed(client: httpx.AsyncClient, article: str) -> None:
    """<link rel="alternate" type="application/atom+xml"> on the article page and the index."""
    page = (await client.get(f"/articles/{article}")).text
    link = (
        'type="application/atom+xml" title="Comments on “NATO annual report”"'
        f' href="/feeds/articles/{article}.atom"'
    )
    assert link in page
    index = (await client.get("/")).text
    assert 'href="/feeds/comments.atom"' in index
