"""The live thread in a real Chromium when WebSockets cannot get through: Server-Sent Events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import WAIT, Problems, bodies, comment_ids, wait_live
from tests.conftest import ADMIN, SLUG, Site
from tests.servers import UNIT, ThreadServer, free_port, make_settings
from tests.test_browser import drop_network_noise

pytestmark = pytest.mark.browser
expect.set_options(timeout=WAIT)


def watch_transports(page: Page) -> tuple[list[str], list[str]]:
    """The URLs of the page's WebSocket attempts and of its event-stream requests, as made."""
    sockets: list[str] = []
    streams: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on(
        "request", lambda request: streams.append(request.url) if "/sse/" in request.url else None
    )
    return sockets, streams


async def test_blocked_websockets_fall_back_to_sse_without_a_gap(
    browser: Browser, tmp_path: Path, problems: Problems
) -> None:
    """Every WebSocket upgrade refused: the thread is live over SSE and says "Live"; after the
    server restarts, the comments and the edit made meanwhile appear once each, in order.

    uvicorn without WebSocket support answers each upgrade as a plain HTTP request (a 404), so
    the browser's WebSocket fails to open, as behind a proxy that refuses upgrades. While the
    page's server is down, the writes go through a second server on the same database, which
    the page never talks to: they can only reach it through the resume when it reconnects.
    """
    settings = make_settings(tmp_path / "sse.db", admin_token=ADMIN, rate_limit="off")
    port = free_port()
    server = ThreadServer(settings, ws="none", port=port).start()
    other = ThreadServer(settings)
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        site = Site(server, http)
        await site.article()
        created = await site.post("Before the restart.")
        first = created["comment"]["id"]
        context = await browser.new_context()
        page = problems.watch(await context.new_page())
        page.set_default_timeout(WAIT)
        sockets, streams = watch_transports(page)
        await page.goto(site.article_url())
        await wait_live(page)
        await expect(page.locator(".rt-status")).to_have_text("Live")
        assert sockets and streams == [f"{server.url}/sse/articles/{SLUG}?after={first}&rev=0"]
        live = await site.post("Live over the event stream.")
        await expect(page.locator(".rt-comment")).to_have_count(2)
        second = live["comment"]["id"]

        server.stop()
        await expect(page.locator(".rt-status")).to_have_text("Reconnecting…")
        other.start()
        async with httpx.AsyncClient(base_url=other.url, timeout=10 * UNIT) as meanwhile:
            away = Site(other, meanwhile)
            posted = [(await away.post(f"While away {i}."))["comment"]["id"] for i in range(3)]
            edited = await meanwhile.patch(
                f"/api/comments/{first}",
                json={"body": "Before the restart, edited while away."},
                headers={"Authorization": f"Bearer {created['token']}"},
            )
            assert edited.status_code == 200
        other.stop()
        streams.clear()
        server = ThreadServer(settings, ws="none", port=port).start()
        try:
            await wait_live(page, timeout=6 * WAIT)
            await expect(page.locator(".rt-comment")).to_have_count(5)
            assert await comment_ids(page) == [first, second, *posted]
            assert await bodies(page) == [
                "Before the restart, edited while away.",
                "Live over the event stream.",
                *(f"While away {i}." for i in range(3)),
            ]
            await expect(page.locator(".rt-status")).to_have_text("Live")
            assert streams[-1] == f"{server.url}/sse/articles/{SLUG}?after={second}&rev=0"
            after = await Site(server, http).post("After the reconnection.")
            await expect(page.locator(f"#comment-{after['comment']['id']}")).to_have_count(1)
            await expect(page.locator(".rt-comment")).to_have_count(6)
        finally:
            server.stop()
            await context.close()
    drop_network_noise(problems)


async def test_websocket_stays_first_choice(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """Where WebSockets get through, the thread is live over one and opens no event stream."""
    site = await make_site()
    context = await browser.new_context()
    page = problems.watch(await context.new_page())
    sockets, streams = watch_transports(page)
    await page.goto(site.article_url())
    await wait_live(page)
    await site.post("Over the WebSocket.")
    await expect(page.locator(".rt-comment")).to_have_count(1)
    assert sockets == [f"{site.server.ws_url}/ws/articles/{SLUG}?after=0&rev=0"]
    assert streams == []
    await context.close()
