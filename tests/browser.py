"""Headless Chromium for the browser tests: Debian's binary driven by async Playwright.

Never `playwright install` (it downloads a browser, which cannot work here); see TESTING.md.
Also a tiny static site on another port, to stand for another origin that embeds the thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from tests.servers import UNIT

CHROMIUM = "/usr/lib/chromium/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
# Playwright waits in milliseconds, scaled like every other timeout in the suite.
WAIT = int(5000 * UNIT)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


class Problems:
    """Collects what a page reports as wrong: uncaught exceptions and console errors."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console.{message.type}: {message.text}")


async def open_page(browser: Browser, url: str, problems: Problems, **context: Any) -> Page:
    """A page in a fresh context (its own localStorage), loaded and watched for errors."""
    ctx = await browser.new_context(**context)
    page = problems.watch(await ctx.new_page())
    page.set_default_timeout(WAIT)
    await page.goto(url)
    return page


async def open_thread(browser: Browser, url: str, problems: Problems, **context: Any) -> Page:
    """An article page (or embed) once its thread is live."""
    page = await open_page(browser, url, problems, **context)
    await wait_live(page)
    return page


async def wait_live(page: Page, timeout: int = WAIT) -> None:
    await page.wait_for_selector('.rt-status[data-state="live"]', timeout=timeout)


async def post_through_form(
    page: Page, body: str, author: str = "Ola", email: str = "", within: str = ".rt"
) -> None:
    form = page.locator(f"{within} form.rt-form")
    await form.get_by_label("Comment").fill(body)
    await form.get_by_label("Name").fill(author)
    await form.get_by_label("E-mail").fill(email)
    await form.get_by_role("button", name="Post comment").click()


async def bodies(page: Page, selector: str = ".rt-comment") -> list[str]:
    """The text of every comment body on the page, in document order."""
    texts: list[str] = await page.eval_on_selector_all(
        f"{selector} > .rt-card > .rt-body", "nodes => nodes.map(n => n.innerText)"
    )
    return texts


async def comment_ids(page: Page) -> list[int]:
    """The ids of the comments shown, in page order."""
    ids: list[str] = await page.eval_on_selector_all(
        ".rt-comment", "nodes => nodes.map(n => n.dataset.id)"
    )
    return [int(i) for i in ids]


async def heading(page: Page) -> str:
    return await page.locator(".rt-heading").inner_text()


async def screenshot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    await page.screenshot(path=str(path), full_page=True)
    return path


class StaticSite:
    """Serves HTML pages on 127.0.0.1 (port from the OS): a site of another origin.

    `pages` maps a path to its HTML and may be filled after the origin is known.
    """

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                html = pages.get(self.path.split("?")[0])
                body = (html or "not found").encode()
                self.send_response(200 if html is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def embed_page(server_url: str, slug: str, page_size: int | None = None) -> str:
    size = f' data-page-size="{page_size}"' if page_size else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A blog that embeds the comments</title><link rel="icon" href="data:,"></head>
<body><h1>Someone else's blog post</h1>
<div id="comments" data-article="{slug}"{size}></div>
<script src="{server_url}/static/embed.js" defer></script>
</body></html>"""
