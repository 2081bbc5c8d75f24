"""The thread's features in a real Chromium, live across pages: votes, pins, the three orders
with a comment arriving, formatting and the XSS payloads (CSP off, so only the sanitizer stands
in the way), and the dark theme of the page and of an embed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import (
    WAIT,
    Problems,
    StaticSite,
    open_page,
    open_thread,
    screenshot,
    wait_live,
)
from tests.conftest import ADMIN, SLUG, Site
from tests.test_a11y import axe_violations
from tests.test_formatting import XSS

pytestmark = pytest.mark.browser
expect.set_options(timeout=WAIT)
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
async def site(make_site: Callable[..., Any]) -> Site:
    made: Site = await make_site()
    return made


def card(page: Page, comment_id: int) -> Any:
    return page.locator(f"#comment-{comment_id} > .rt-card")


def score(page: Page, comment_id: int) -> Any:
    return card(page, comment_id).locator(".rt-score [aria-hidden=true]")


async def root_ids(page: Page) -> list[int]:
    """The threads' roots on the page, in page order."""
    ids: list[str] = await page.eval_on_selector_all(
        ".rt-list > .rt-comment", "nodes => nodes.map(n => n.dataset.id)"
    )
    return [int(i) for i in ids]


async def test_a_vote_in_one_page_moves_the_score_in_the_other(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Reader A votes up: both pages show 1 and A's button is pressed; reader B votes down:
    both show 0; A takes the vote back: both show -1. Buttons are named for screen readers."""
    comment = (await site.post("Vote on me."))["comment"]["id"]
    a = await open_thread(browser, site.article_url(), problems)
    b = await open_thread(browser, site.article_url(), problems)
    up_a = card(a, comment).get_by_role("button", name="Vote up")
    await up_a.click()
    await expect(up_a).to_have_attribute("aria-pressed", "true")
    for page in (a, b):
        await expect(score(page, comment)).to_have_text("1")
    await card(b, comment).get_by_role("button", name="Vote down").click()
    for page in (a, b):
        await expect(score(page, comment)).to_have_text("0")
    await up_a.click()  # pressed: takes the vote back
    await expect(up_a).to_have_attribute("aria-pressed", "false")
    for page in (a, b):
        await expect(score(page, comment)).to_have_text("-1")
    await expect(card(b, comment).locator(".rt-score .rt-sr-only")).to_have_text("-1 point")
    # A's vote is remembered by its browser: after a reload the button is still as it was.
    await card(a, comment).get_by_role("button", name="Vote down").click()
    await expect(score(b, comment)).to_have_text("-2")
    await a.reload()
    await wait_live(a)
    down_a = card(a, comment).get_by_role("button", name="Vote down")
    await expect(down_a).to_have_attribute("aria-pressed", "true")


async def test_a_readers_own_comment_has_no_working_vote_buttons(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """The author's page cannot vote on the comment it posted; the server refuses it anyway."""
    page = await open_thread(browser, site.article_url(), problems)
    form = page.locator("form.rt-form")
    await form.get_by_label("Comment").fill("My own.")
    await form.get_by_label("Name").fill("Ola")
    await form.get_by_role("button", name="Post comment").click()
    mine = page.locator(".rt-comment", has_text="My own.")
    await expect(mine).to_have_count(1)
    await expect(mine.get_by_role("button", name="Vote up")).to_be_disabled()


async def test_a_pinned_comment_shows_first_in_both_pages(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """The admin pins the last comment: first, labelled, in both open pages; unpinned, it goes
    back to its place."""
    ids = [(await site.post(f"Comment {n}."))["comment"]["id"] for n in range(3)]
    a = await open_thread(browser, site.article_url(), problems)
    b = await open_thread(browser, f"{site.article_url()}?sort=newest", problems)
    assert await root_ids(a) == ids and await root_ids(b) == ids[::-1]
    await site.http.post(f"/api/admin/comments/{ids[0]}/pin", headers=AUTH)
    for page in (a, b):
        await expect(page.locator(".rt-list > .rt-comment").first).to_have_id(f"comment-{ids[0]}")
        await expect(card(page, ids[0]).locator(".rt-pin-label")).to_have_text("Pinned")
        await expect(card(page, ids[0]).locator(".rt-pin-label")).to_be_visible()
    assert await root_ids(b) == [ids[0], ids[2], ids[1]]
    await site.http.post(f"/api/admin/comments/{ids[0]}/unpin", headers=AUTH)
    await expect(card(a, ids[0]).locator(".rt-pin-label")).to_be_hidden()
    await expect(card(b, ids[0]).locator(".rt-pin-label")).to_be_hidden()
    assert await root_ids(a) == ids and await root_ids(b) == ids[::-1]
    # A page loaded afterwards (server-rendered) agrees.
    await site.http.post(f"/api/admin/comments/{ids[1]}/pin", headers=AUTH)
    c = await open_thread(browser, site.article_url(), problems)
    assert await root_ids(c) == [ids[1], ids[0], ids[2]]


async def test_each_order_with_a_live_comment(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """oldest: a new comment below; newest: on top; top: behind "Show 1 new comment", then on
    top. Replies go under their parent in every order. The order is remembered."""
    ids = [(await site.post(f"Comment {n}."))["comment"]["id"] for n in range(3)]
    voter = "v" * 20
    await site.http.post(f"/api/comments/{ids[1]}/vote", json={"voter": voter, "value": 1})
    oldest = await open_thread(browser, site.article_url(), problems)
    newest = await open_thread(browser, f"{site.article_url()}?sort=newest", problems)
    top = await open_thread(browser, f"{site.article_url()}?sort=top", problems)
    assert await root_ids(top) == [ids[1], ids[0], ids[2]]
    await expect(top.locator('.rt-sort a[aria-current="true"]')).to_have_text("Top")
    live = (await site.post("Live one."))["comment"]["id"]
    reply = (await site.post("A reply.", parent=ids[0]))["comment"]["id"]
    await expect(oldest.locator(f"#comment-{live}")).to_be_visible()
    assert await root_ids(oldest) == [*ids, live]
    await expect(newest.locator(f"#comment-{live}")).to_be_visible()
    assert await root_ids(newest) == [live, *ids[::-1]]
    for page in (oldest, newest, top):
        await expect(
            page.locator(f"#comment-{ids[0]} > .rt-replies > #comment-{reply}")
        ).to_have_count(1)
    fresh = top.get_by_role("button", name="Show 1 new comment")
    await expect(fresh).to_be_visible()
    assert live not in await root_ids(top)  # nothing jumped in
    await fresh.click()
    await expect(top.locator(f"#comment-{live}")).to_be_visible()
    assert await root_ids(top) == [live, ids[1], ids[0], ids[2]]
    # Remembered: the same browser (its cookie) opens the article in `top` again.
    await top.goto(site.article_url())
    await wait_live(top)
    await expect(top.locator('.rt-sort a[aria-current="true"]')).to_have_text("Top")
    assert (await root_ids(top))[0] == ids[1]


async def test_embed_orders_and_remembers_and_takes_a_dark_theme(
    browser: Browser, make_site: Callable[..., Any], problems: Problems, host: StaticSite
) -> None:
    """An embed's sort buttons reorder it and the choice lasts a reload; data-theme="dark" paints
    it dark on a light page, with no axe findings."""
    site: Site = await make_site(allowed_origins=[host.origin])
    ids = [(await site.post(f"Comment {n}."))["comment"]["id"] for n in range(3)]
    host.pages["/post.html"] = embed_html(site.url, 'data-theme="dark"')
    page = await open_page(browser, f"{host.origin}/post.html", problems, color_scheme="light")
    await wait_live(page)
    await page.get_by_role("button", name="Newest").click()
    await wait_live(page)
    await expect(page.get_by_role("button", name="Newest")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert await root_ids(page) == ids[::-1]
    await page.reload()
    await wait_live(page)
    assert await root_ids(page) == ids[::-1]
    background = await page.eval_on_selector(
        "#comments", "el => getComputedStyle(el).backgroundColor"
    )
    assert background == "rgb(18, 20, 23)"
    await screenshot(page, "embed-dark-theme.png")
    assert await axe_violations(page) == []
    light = await open_page(browser, f"{host.origin}/post.html", problems, color_scheme="dark")
    host.pages["/light.html"] = embed_html(site.url, 'data-theme="light"')
    await light.goto(f"{host.origin}/light.html")
    await wait_live(light)
    background = await light.eval_on_selector(
        "#comments", "el => getComputedStyle(el).backgroundColor"
    )
    assert background == "rgba(0, 0, 0, 0)"  # light: the host page's own background
    await screenshot(light, "embed-light-theme-on-dark-reader.png")


async def test_dark_article_page_screenshots(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """The article page in the reader's dark scheme, with votes, a pin, formatting and the
    preview, as a screenshot to look at (and no axe findings)."""
    first = await site.post("**Strong** and *emphasis*, `code`,\n\n> a quote\n\n- a list")
    second = await site.post("A plain one with https://example.org/a link.")
    await site.http.post(f"/api/admin/comments/{first['comment']['id']}/pin", headers=AUTH)
    await site.http.post(
        f"/api/comments/{second['comment']['id']}/vote", json={"voter": "w" * 20, "value": 1}
    )
    page = await open_page(
        browser, site.article_url(), problems, color_scheme="dark", bypass_csp=True
    )
    await wait_live(page)
    await page.locator("form.rt-form").get_by_label("Comment").fill("Previewing **this**.")
    await expect(page.locator(".rt-preview-body strong")).to_have_text("this")
    await screenshot(page, "article-dark-theme.png")
    assert await axe_violations(page) == []


async def test_formatting_and_xss_payloads_in_chromium_with_the_csp_off(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Every payload, served in the page and arriving live, and typed into the preview: no
    dialog, no script, no handler, no javascript: link; formatting shows as formatting."""
    for payload in XSS[:18]:
        await site.post(payload)
    page = await open_page(browser, site.article_url(), problems, bypass_csp=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await wait_live(page)
    for payload in XSS[18:]:
        await site.post(payload)
    await site.post("**bold** and [a link](https://example.org/x)")
    await expect(page.locator(".rt-body strong", has_text="bold")).to_have_count(1)
    await expect(page.locator(".rt-list > .rt-comment")).to_have_count(len(XSS) + 1)
    form = page.locator("form.rt-form")
    for payload in XSS[:6]:
        await form.get_by_label("Comment").fill(payload)
        await expect(page.locator(".rt-preview")).to_be_visible()
    await page.wait_for_timeout(500)  # a handler or a script would have run by now
    assert dialogs == []
    found = await page.evaluate(INERT)
    assert found == {"elements": [], "handlers": [], "links": []}
    link = page.locator(".rt-body a", has_text="a link")
    await expect(link).to_have_attribute("rel", "nofollow ugc noopener")


BACKGROUND = "el => getComputedStyle(el).backgroundColor"
INERT = """() => {
  const bodies = [...document.querySelectorAll('.rt-body')];
  const all = bodies.flatMap((b) => [...b.querySelectorAll('*')]);
  const allowed = new Set(
    ['P', 'BR', 'EM', 'STRONG', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'LI', 'A']);
  const href = (el) => el.getAttribute('href') ?? '';
  return {
    elements: all.filter((el) => !allowed.has(el.tagName)).map((el) => el.tagName),
    handlers: all.flatMap((el) => [...el.attributes].map((a) => a.name))
      .filter((name) => name.startsWith('on')),
    links: all.filter((el) => el.tagName === 'A' && !/^(https?|mailto):/.test(href(el)))
      .map(href),
  };
}"""


def embed_html(server_url: str, theme: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A light blog that embeds the comments</title><link rel="icon" href="data:,"></head>
<body style="background:#fff;color:#111"><h1>Someone else's blog post</h1>
<div id="comments" data-article="{SLUG}" {theme}></div>
<script src="{server_url}/static/embed.js" defer></script>
</body></html>"""


@pytest.fixture
async def host() -> AsyncIterator[StaticSite]:
    """Another origin, to embed the thread."""
    other = StaticSite()
    yield other
    other.close()


async def test_latest_comments_widget_on_another_site(
    browser: Browser, make_site: Callable[..., Any], problems: Problems, host: StaticSite
) -> None:
    """static/latest.js lists the newest comments, as text, each linking to its comment."""
    site: Site = await make_site(allowed_origins=[host.origin])
    await site.post("Older one.")
    newest = (await site.post("<b>Newest</b> one, **not bold** here.", author="Per"))["comment"]
    host.pages["/side.html"] = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A site with a sidebar</title>
<link rel="icon" href="data:,"></head><body><main><h1>Home</h1>
<aside id="latest-comments" data-limit="2"></aside></main>
<script src="{site.url}/static/latest.js" defer></script></body></html>"""
    page = await open_page(browser, f"{host.origin}/side.html", problems)
    items = page.locator(".rt-latest-item")
    await expect(items).to_have_count(2)
    await expect(page.locator(".rt-latest-title")).to_have_text("Latest comments")
    first = items.first.locator("a")
    await expect(first).to_have_text("Per on NATO annual report")
    href = await first.get_attribute("href")
    assert href == f"{site.url}/articles/{SLUG}#comment-{newest['id']}"
    await expect(items.first.locator(".rt-latest-excerpt")).to_have_text(
        "<b>Newest</b> one, **not bold** here."
    )
    assert await page.locator("#latest-comments b, #latest-comments strong").count() == 0
    assert await axe_violations(page) == []


async def test_pin_from_the_admin_page_moves_the_comment_for_readers(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Pin on /admin: the reader's open page shows the comment first, labelled; Unpin undoes it."""
    ids = [(await site.post(f"Comment {n}."))["comment"]["id"] for n in range(2)]
    reader = await open_thread(browser, site.article_url(), problems)
    admin = await open_page(browser, f"{site.url}/admin", problems)
    await admin.get_by_label("Admin token").fill(ADMIN)
    await admin.get_by_role("button", name="Sign in").click()
    pin = admin.locator(f"#published-{ids[1]} .adm-pin")
    await expect(pin).to_have_text("Pin")
    await pin.click()
    await expect(pin).to_have_text("Unpin")
    await expect(pin).to_have_attribute("aria-pressed", "true")
    await expect(reader.locator(".rt-list > .rt-comment").first).to_have_id(f"comment-{ids[1]}")
    await expect(card(reader, ids[1]).locator(".rt-pin-label")).to_be_visible()
    await pin.click()
    await expect(card(reader, ids[1]).locator(".rt-pin-label")).to_be_hidden()
    assert await root_ids(reader) == ids
