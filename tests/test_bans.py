"""Bans: made from a comment by network and/or e-mail, refused with 403, listed with only a prefix,
searchable, liftable, and ending by themselves."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from realtime.config import Settings
from realtime.errors import Banned
from realtime.live.hub import Hub
from realtime.models import ArticleIn, BanIn, CommentIn
from realtime.moderators import OWNER_ACTOR
from realtime.moderators.bans import Bans, network
from realtime.service import CommentService
from realtime.store import Store
from tests.conftest import ADMIN, STORES, Site
from tests.servers import UNIT, make_settings
from tests.test_http import assert_error
from tests.test_pages import form_token, post_form

OWNER = {"Authorization": f"Bearer {ADMIN}"}
both = pytest.mark.parametrize("store_kind", STORES)


def poster(address: str) -> dict[str, str]:
    """A client behind the trusted proxy (127.0.0.1), as the limits and bans see it."""
    return {"X-Forwarded-For": address}


async def post_from(
    http: httpx.AsyncClient, slug: str, address: str, **fields: Any
) -> httpx.Response:
    fields.setdefault("author", "Spammer")
    fields.setdefault("body", f"buy now from {address}")
    return await http.post(f"/api/articles/{slug}/comments", json=fields, headers=poster(address))


@pytest.fixture
async def proxied(start_server: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A server behind a trusted proxy on 127.0.0.1, with the test article."""
    server = start_server(trusted_proxies=["127.0.0.1"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put("/api/articles/b", json={"title": "Bans"}, headers=OWNER)
        yield http


def test_networks_are_an_ipv4_address_or_an_ipv6_64() -> None:
    """A ban matches an IPv4 address (shown as its /24) or an IPv6 /64 (shown as such)."""
    assert network("203.0.113.77") == ("203.0.113.77", "203.0.113.0/24")
    assert network("::ffff:203.0.113.77") == ("203.0.113.77", "203.0.113.0/24")
    assert network("2001:db8:1:2:aaaa::5") == ("2001:db8:1:2::/64", "2001:db8:1:2::/64")
    assert network("unknown") is None and network("testclient") is None


@both
async def test_ban_by_network_refuses_the_poster_with_403(proxied: httpx.AsyncClient) -> None:
    """A network ban refuses that IPv4 address, with a message that says so; others still post."""
    spam = (await post_from(proxied, "b", "203.0.113.77")).json()["comment"]["id"]
    made = await proxied.post(
        f"/api/admin/comments/{spam}/ban",
        json={"reason": "spam", "on": "network", "minutes": 60},
        headers=OWNER,
    )
    assert made.status_code == 201, made.text
    ban = made.json()
    assert ban["address"] == "203.0.113.0/24" and ban["email"] is False and ban["active"]
    assert ban["comment"] == spam and ban["moderator"] == "owner" and ban["expires"]
    refused = await post_from(proxied, "b", "203.0.113.77", body="again")
    assert_error(refused, 403)
    assert refused.json()["error"]["code"] == "banned"
    assert (
        "banned" in refused.json()["error"]["message"]
        and "until" in refused.json()["error"]["message"]
    )
    assert (await post_from(proxied, "b", "203.0.113.78")).status_code == 201  # the neighbour
    assert (await proxied.get("/api/articles/b")).json()["count"] == 2  # the refused one is not


async def test_ipv6_is_banned_by_its_64(proxied: httpx.AsyncClient) -> None:
    """Another address in the same IPv6 /64 is refused; the next /64 is not."""
    spam = (await post_from(proxied, "b", "2001:db8:1:2::5")).json()["comment"]["id"]
    made = await proxied.post(
        f"/api/admin/comments/{spam}/ban", json={"reason": "flood"}, headers=OWNER
    )
    assert made.json()["address"] == "2001:db8:1:2::/64" and made.json()["expires"] is None
    assert_error(await post_from(proxied, "b", "2001:db8:1:2:ffff::9"), 403)
    assert (await post_from(proxied, "b", "2001:db8:1:3::5")).status_code == 201


async def test_ban_by_email_follows_the_address_elsewhere(proxied: httpx.AsyncClient) -> None:
    """An e-mail ban refuses that address (any case) from any network; the ban keeps no e-mail."""
    spam = await post_from(proxied, "b", "198.51.100.1", email="Spam@Example.com")
    made = await proxied.post(
        f"/api/admin/comments/{spam.json()['comment']['id']}/ban",
        json={"reason": "bot", "on": "email"},
        headers=OWNER,
    )
    assert made.json()["address"] is None and made.json()["email"] is True
    assert_error(await post_from(proxied, "b", "192.0.2.9", email="spam@example.COM"), 403)
    assert (
        await post_from(proxied, "b", "198.51.100.1", email="other@example.com")
    ).status_code == 201
    assert (await post_from(proxied, "b", "198.51.100.1")).status_code == 201


async def test_ban_from_a_held_comment(start_server: Any) -> None:
    """A held comment's poster can be banned before it is rejected; the ban names the held id."""
    server = start_server(trusted_proxies=["127.0.0.1"], moderation="all")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put("/api/articles/b", json={"title": "Bans"}, headers=OWNER)
        held = (await post_from(http, "b", "203.0.113.5")).json()["comment"]["id"]
        made = await http.post(
            f"/api/admin/pending/{held}/ban", json={"reason": "x"}, headers=OWNER
        )
        assert made.status_code == 201 and made.json()["pending"] == held
        assert_error(await post_from(http, "b", "203.0.113.5"), 403)
        assert_error(
            await http.post("/api/admin/pending/999/ban", json={"reason": "x"}, headers=OWNER), 404
        )


async def test_nothing_to_ban_is_409_and_bad_bodies_422(proxied: httpx.AsyncClient) -> None:
    """A ban on what the comment does not keep (here an e-mail) is 409; a bad body is 422."""
    spam = (await post_from(proxied, "b", "203.0.113.9")).json()["comment"]["id"]
    url = f"/api/admin/comments/{spam}/ban"
    assert_error(
        await proxied.post(url, json={"reason": "x", "on": "email"}, headers=OWNER), 409, "on"
    )
    assert_error(
        await proxied.post(url, json={"reason": "x", "on": "ip"}, headers=OWNER), 422, "on"
    )
    assert_error(await proxied.post(url, json={"reason": ""}, headers=OWNER), 422, "reason")
    assert_error(
        await proxied.post(url, json={"reason": "x", "minutes": 0}, headers=OWNER), 422, "minutes"
    )
    assert_error(
        await proxied.post(url, json={"reason": "x", "ip": "1.2.3.4"}, headers=OWNER), 422, "ip"
    )
    assert_error(await proxied.post(url, json={"reason": "x"}), 401)
    assert (await proxied.get("/api/admin/bans", headers=OWNER)).json()["bans"] == []


@both
async def test_bans_are_listed_searched_and_lifted(proxied: httpx.AsyncClient) -> None:
    """The list shows prefixes only; search finds name, reason, prefix or e-mail; lift ends it."""
    a = await post_from(proxied, "b", "203.0.113.44", author="Åsa", email="asa@example.no")
    b = await post_from(proxied, "b", "2001:db8:9:9::1", author="Bot")
    for response, reason in ((a, "abuse"), (b, "link spam")):
        comment = response.json()["comment"]["id"]
        await proxied.post(
            f"/api/admin/comments/{comment}/ban", json={"reason": reason}, headers=OWNER
        )
    listing = await proxied.get("/api/admin/bans", headers=OWNER)
    text = listing.text
    assert "203.0.113.44" not in text and "asa@example.no" not in text and "203.0.113.0/24" in text

    async def found(q: str, everything: bool = False) -> list[str]:
        params = {"q": q, **({"all": "1"} if everything else {})}
        response = await proxied.get("/api/admin/bans", params=params, headers=OWNER)
        return [ban["reason"] for ban in response.json()["bans"]]

    assert await found("") == ["link spam", "abuse"]
    assert await found("LINK") == ["link spam"]
    assert await found("2001:db8:9:9") == ["link spam"]
    assert await found("ASA@example.no") == ["abuse"]
    assert await found("100%") == []
    first = (await proxied.get("/api/admin/bans", headers=OWNER)).json()["bans"][-1]
    lifted = await proxied.delete(f"/api/admin/bans/{first['id']}", headers=OWNER)
    assert lifted.json()["active"] is False and lifted.json()["lifted_by"] == "owner"
    assert_error(await proxied.delete(f"/api/admin/bans/{first['id']}", headers=OWNER), 404)
    assert await found("") == ["link spam"]
    assert await found("", everything=True) == ["link spam", "abuse"]
    assert (
        await post_from(proxied, "b", "203.0.113.44", email="asa@example.no")
    ).status_code == 201
    actions = [
        e["action"]
        for e in (await proxied.get("/api/admin/audit", headers=OWNER)).json()["entries"]
    ]
    assert actions == ["unban", "ban", "ban"]


class Moment:
    """A clock the test moves forward (the service takes its clock as a parameter)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[CommentService, Moment, Path]]:
    """A service on a real database file, in this test's loop, with a clock to move."""
    db = tmp_path / "bans.sqlite"
    settings: Settings = make_settings(db, rate_limit="off")
    store = await Store.open(db)
    clock = Moment()
    svc = CommentService(settings, store, Hub(settings.reader_backlog_bytes), clock=clock)
    await svc.put_article("b", ArticleIn(title="B"))
    yield svc, clock, db
    await store.close()


def comment(body: str = "hello", **fields: Any) -> CommentIn:
    return msgspec.convert({"author": "Kari", "body": body, **fields}, CommentIn)


async def test_bans_end_by_themselves(service: tuple[CommentService, Moment, Path]) -> None:
    """A ban for an hour refuses for that hour and not a minute after; it then lists as expired."""
    svc, clock, _ = service
    posted = await svc.post("b", comment(), client="203.0.113.7")
    await svc.bans.ban(
        "comments", posted.comment.id, BanIn(reason="cool off", minutes=60), OWNER_ACTOR
    )
    clock.now += timedelta(minutes=59)
    with pytest.raises(Banned, match="banned"):
        await svc.post("b", comment("still?"), client="203.0.113.7")
    clock.now += timedelta(minutes=2)
    assert (await svc.post("b", comment("back"), client="203.0.113.7")).status == "published"
    assert (await svc.bans.search()).bans == []
    (expired,) = (await svc.bans.search(everything=True)).bans
    assert expired.active is False and expired.lifted is None


async def test_networks_are_erased_after_the_retention(
    service: tuple[CommentService, Moment, Path],
) -> None:
    """Comments keep the network (hash and prefix, not the address) for client_address_days."""
    svc, clock, db = service
    await svc.post("b", comment(), client="203.0.113.99")
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT client_prefix, client_key FROM comments").fetchall()
    assert kept[0][0] == "203.0.113.0/24" and len(kept[0][1]) == 32
    assert b"203.0.113.99" not in db.read_bytes() + Path(f"{db}-wal").read_bytes()
    clock.now += timedelta(days=29)
    assert await svc.bans.erase_old_networks() == 0
    clock.now += timedelta(days=2)
    assert await svc.bans.erase_old_networks() == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT client_prefix, client_key FROM comments").fetchall() == [
            (None, None)
        ]


async def test_the_form_without_javascript_refuses_a_banned_poster_and_names_the_word(
    make_site: Callable[..., Any],
) -> None:
    """The server-rendered form shows the ban, and the refused word by its field, text kept."""
    site: Site = await make_site(refuse_words=["idiot"])
    token = await form_token(site)
    refused = await post_form(site, csrf=token, author="Kari", body="You idiot", email="k@x.no")
    assert refused.status_code == 422
    assert "Your comment contains “idiot”, which this site does not accept." in refused.text
    assert ">You idiot</textarea>" in refused.text
    posted = (await site.post("First", email="k@x.no"))["comment"]["id"]
    ban = await site.http.post(
        f"/api/admin/comments/{posted}/ban", json={"reason": "r", "on": "email"}, headers=OWNER
    )
    assert ban.status_code == 201
    banned = await post_form(site, csrf=token, author="Kari", body="Again", email="K@X.no")
    assert banned.status_code == 403
    assert "You are banned from commenting here." in banned.text
    assert ">Again</textarea>" in banned.text


@both
async def test_a_ban_made_by_another_process_is_in_force_within_a_second(
    start_server: Any,
) -> None:
    """The server keeps the bans in force in memory and reads them again when they change: a
    ban made and lifted by another process (here a second store on the same file) reaches it."""
    server = start_server(trusted_proxies=["127.0.0.1"])
    other = await Store.open(server.settings.db)
    try:
        bans = Bans(server.settings, other, lambda: datetime.now(UTC))
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            await http.put("/api/articles/b", json={"title": "Bans"}, headers=OWNER)
            spam = (await post_from(http, "b", "203.0.113.5")).json()["comment"]["id"]
            ban = await bans.ban("comments", spam, BanIn(reason="elsewhere"), OWNER_ACTOR)

            async def refused() -> bool:
                return (await post_from(http, "b", "203.0.113.5")).status_code == 403

            await until(refused)
            await bans.lift(ban.id, OWNER_ACTOR)
            await until(lambda: not_(refused))
    finally:
        await other.close()


async def not_(check: Callable[[], Awaitable[bool]]) -> bool:
    return not await check()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Try an async check (each try a real request) until it holds."""
    async with asyncio.timeout(timeout * UNIT):
        while not await check():
            await asyncio.sleep(0.05)
