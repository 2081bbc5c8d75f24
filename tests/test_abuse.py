"""Abuse: rate limits, repeats, honeypot, link cap, socket caps and the Origin check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets

from tests.conftest import ADMIN, post_comment
from tests.test_http import assert_error
from tests.wsclient import Reader


@asynccontextmanager
async def limited(start_server: Any, **overrides: Any) -> AsyncIterator[tuple[Any, Any]]:
    """A server with the per-client limits on, its article `a`, and a client."""
    server = start_server(rate_limit="on", **overrides)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put(
            "/api/articles/a", json={"title": "A"}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        yield server, http


async def test_burst_then_429_with_retry_after(start_server: Any) -> None:
    """Three comments pass (the burst), the fourth is 429 with Retry-After; nothing stored."""
    async with limited(start_server) as (_, http):
        for n in range(3):
            assert (await post_comment(http, "a", body=f"n{n}")).status_code == 201
        refused = await post_comment(http, "a", body="n3")
        assert_error(refused, 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (await http.get("/api/articles/a")).json()["count"] == 3


async def test_same_body_twice_is_409(start_server: Any) -> None:
    """The same body twice in a row from one client is refused."""
    async with limited(start_server) as (_, http):
        assert (await post_comment(http, "a", body="First!")).status_code == 201
        assert_error(await post_comment(http, "a", body="First!"), 409, "body")
        assert (await post_comment(http, "a", body="Second.")).status_code == 201


async def test_rate_limit_off_lifts_the_limits(server: Any, client: httpx.AsyncClient) -> None:
    """With rate_limit = off (load tests on loopback) many posts and repeats pass."""
    await client.put(
        "/api/articles/a", json={"title": "A"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    for _ in range(10):
        assert (await post_comment(client, "a", body="same")).status_code == 201


async def test_honeypot_and_links_are_held(server: Any, client: httpx.AsyncClient) -> None:
    """A filled honeypot or too many links hold the comment even with moderation off."""
    await client.put(
        "/api/articles/a", json={"title": "A"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    bot = await post_comment(client, "a", website="http://spam.example")
    assert bot.status_code == 201 and bot.json()["status"] == "pending"
    links = "see https://a.example and http://b.example and www.c.example"
    assert (await post_comment(client, "a", body=links)).json()["status"] == "pending"
    two = "see https://a.example and http://b.example"
    assert (await post_comment(client, "a", body=two)).json()["status"] == "published"
    assert (await client.get("/api/articles/a")).json()["count"] == 1


async def test_socket_caps(start_server: Any) -> None:
    """Past the per-client cap a new reader is closed with 1013; the others stay."""
    async with limited(start_server, max_readers_per_client=3) as (server, http):
        readers = [await Reader.open(f"{server.ws_url}/ws/articles/a") for _ in range(3)]
        for reader in readers:
            await reader.next()
        extra = await Reader.open(f"{server.ws_url}/ws/articles/a")
        assert await extra.close_code() == 1013
        await readers[0].close()
        again = await Reader.open(f"{server.ws_url}/ws/articles/a")
        assert (await again.next())["type"] == "hello"
        for reader in [*readers[1:], again]:
            await reader.close()


async def test_foreign_origin_is_refused(start_server: Any) -> None:
    """A browser page from an origin not on the list cannot open the WebSocket (403)."""
    server = start_server(allowed_origins=["http://good.example"])
    url = f"{server.ws_url}/ws/counts?articles=a"
    try:
        await websockets.connect(url, origin="http://evil.example")  # type: ignore[arg-type]
        raise AssertionError("connected from a foreign origin")
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 403
    good = await websockets.connect(url, origin="http://good.example")  # type: ignore[arg-type]
    await good.close()


async def test_page_security_headers(start_server: Any) -> None:
    """Pages carry a CSP without inline scripts, nosniff, a referrer policy, frame-ancestors."""
    server = start_server(frame_ancestors=["https://news.example"])
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/", "/articles/anything"):
            headers = (await http.get(path)).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
            assert "frame-ancestors 'self' https://news.example" in csp
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


async def test_trusted_proxy_forwards_the_client_address(start_server: Any) -> None:
    """Behind a trusted proxy, X-Forwarded-For tells clients apart; otherwise it is ignored."""

    async def post_as(http: httpx.AsyncClient, address: str, body: str) -> httpx.Response:
        return await http.post(
            "/api/articles/a/comments",
            json={"author": "K", "body": body},
            headers={"X-Forwarded-For": address},
        )

    async with limited(start_server, trusted_proxies=["127.0.0.1"]) as (_, http):
        for client in ("203.0.113.1", "203.0.113.2"):
            for n in range(3):
                assert (await post_as(http, client, f"{client} {n}")).status_code == 201
        assert_error(await post_as(http, "203.0.113.1", "fourth"), 429)
    async with limited(start_server) as (_, http):
        for n in range(3):
            assert (await post_as(http, f"198.51.100.{n}", f"n{n}")).status_code == 201
        assert_error(await post_as(http, "198.51.100.9", "n3"), 429)
