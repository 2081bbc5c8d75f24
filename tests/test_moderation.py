"""Moderation: held comments stay private until approved; moderators act and readers see it live."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, STORES, post_comment
from tests.test_http import assert_error
from tests.wsclient import Reader

pytestmark = pytest.mark.parametrize("store_kind", STORES)

AUTH = {"Authorization": f"Bearer {ADMIN}"}


async def open_article(http: httpx.AsyncClient, slug: str = "mod") -> str:
    await http.put(f"/api/articles/{slug}", json={"title": "Moderated"}, headers=AUTH)
    return slug


async def moderator(server: Any) -> Reader:
    admin = await Reader.open(f"{server.ws_url}/ws/admin")
    await admin.connection.send(json.dumps({"type": "auth", "token": ADMIN}))
    return admin


async def test_all_mode_holds_then_approval_publishes(start_server: Any) -> None:
    """With moderation = all, a comment is held, invisible, then published live on approval."""
    server = start_server(moderation="all")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        slug = await open_article(http)
        admin = await moderator(server)
        assert await admin.next() == {"type": "queue", "pending": []}
        reader = await Reader.open(f"{server.ws_url}/ws/articles/{slug}")
        await reader.next()
        held = await post_comment(http, slug, body="please approve", email="a@b.org")
        assert held.status_code == 201 and held.json()["status"] == "pending"
        pending_id = held.json()["comment"]["id"]
        assert held.headers["location"] == f"/api/admin/pending/{pending_id}"
        event = await admin.next_of("pending")
        assert event["comment"]["body"] == "please approve" and "email" not in event["comment"]
        page = (await http.get(f"/api/articles/{slug}/comments")).json()
        assert page["count"] == 0 and page["comments"] == []
        queue = (await http.get("/api/admin/pending", headers=AUTH)).json()["pending"]
        assert [c["id"] for c in queue] == [pending_id]
        approved = await http.post(f"/api/admin/pending/{pending_id}/approve", headers=AUTH)
        assert approved.status_code == 200
        live = await reader.next_of("comment")
        assert live["comment"] == approved.json() and live["count"] == 1
        assert await admin.next_of("resolved") == {
            "type": "resolved",
            "id": pending_id,
            "outcome": "approved",
        }
        assert (await http.get("/api/admin/pending", headers=AUTH)).json() == {"pending": []}
        for client in (admin, reader):
            await client.close()


async def test_first_mode_trusts_after_one_approval(start_server: Any) -> None:
    """With moderation = first, an author's first comment waits; once approved, the next is live."""
    server = start_server(moderation="first")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        slug = await open_article(http)
        first = await post_comment(http, slug, email="new@x.org", body="hello")
        assert first.json()["status"] == "pending"
        anonymous = await post_comment(http, slug, author="Nameless", body="hi")
        assert anonymous.json()["status"] == "pending"
        await http.post(f"/api/admin/pending/{first.json()['comment']['id']}/approve", headers=AUTH)
        second = await post_comment(http, slug, email="NEW@x.org", body="again")
        assert second.json()["status"] == "published"
        stranger = await post_comment(http, slug, email="other@x.org", body="me too")
        assert stranger.json()["status"] == "pending"


async def test_reject_and_admin_rights(start_server: Any) -> None:
    """Rejecting drops a held comment; moderation endpoints need the admin token."""
    server = start_server(moderation="all")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        slug = await open_article(http)
        held = (await post_comment(http, slug)).json()["comment"]["id"]
        assert_error(await http.get("/api/admin/pending"), 401)
        bad = {"Authorization": "Bearer nope"}
        assert_error(await http.post(f"/api/admin/pending/{held}/approve", headers=bad), 403)
        response = await http.post(f"/api/admin/pending/{held}/reject", headers=AUTH)
        assert response.status_code == 204
        assert_error(await http.post(f"/api/admin/pending/{held}/approve", headers=AUTH), 404)
        assert (await http.get(f"/api/articles/{slug}")).json()["count"] == 0


async def test_closing_an_article(server: Any, client: httpx.AsyncClient) -> None:
    """A closed article refuses new comments; readers are told live; reopening works."""
    slug = await open_article(client)
    reader = await Reader.open(f"{server.ws_url}/ws/articles/{slug}")
    assert (await reader.next())["closed"] is False
    closed = await client.post(f"/api/admin/articles/{slug}/close", headers=AUTH)
    assert closed.json()["closed"] is True
    assert await reader.next_of("closed") == {"type": "closed", "article": slug, "closed": True}
    assert_error(await post_comment(client, slug), 403)
    assert (await client.get(f"/api/articles/{slug}")).json()["count"] == 0
    await client.post(f"/api/admin/articles/{slug}/reopen", headers=AUTH)
    assert (await reader.next_of("closed"))["closed"] is False
    assert (await post_comment(client, slug)).status_code == 201
    await reader.close()


async def test_admin_socket_refuses_wrong_token(server: Any) -> None:
    """/ws/admin closes on a wrong token (4403) or a first message that is not auth (1008)."""
    wrong = await Reader.open(f"{server.ws_url}/ws/admin")
    await wrong.connection.send(json.dumps({"type": "auth", "token": "guess"}))
    assert await wrong.close_code() == 4403
    rude = await Reader.open(f"{server.ws_url}/ws/admin")
    await rude.connection.send(json.dumps({"type": "ping"}))
    assert await rude.close_code() == 1008
