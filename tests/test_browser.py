"""The reader's side in a real headless Chromium: pages, live thread, form, embed, reconnection."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from realtime.demo import COMMENTS, TITLE, URL
from realtime.demo import SLUG as DEMO_SLUG
from tests.browser import (
    DESKTOP,
    PHONE,
    WAIT,
    Problems,
    StaticSite,
    bodies,
    comment_ids,
    embed_page,
    heading,
    open_page,
    open_thread,
    post_through_form,
    screenshot,
    wait_live,
)
from tests.conftest import ADMIN, ARTICLE_TITLE, SLUG, Site
from tests.servers import ROOT, UNIT, ProcessServer, free_port

pytestmark = pytest.mark.browser
expect.set_options(timeout=WAIT)

# What Chromium logs by itself while a server is away or refuses a foreign origin.
NETWORK_NOISE = re.compile(
    r"WebSocket connection to .* failed|Failed to load resource|net::ERR_|"
    r"blocked by CORS policy|Access-Control-Allow-Origin"
)


def drop_network_noise(problems: Problems) -> None:
    problems.errors[:] = [e for e in problems.errors if not NETWORK_NOISE.search(e)]


@pytest.fixture
async def site(make_site: Callable[..., Any]) -> Site:
    made: Site = await make_site()
    return made


def comment(page: Page, comment_id: int) -> Any:
    return page.locator(f"#comment-{comment_id}")


# ---- two readers ---------------------------------------------------------------------------


async def test_comment_from_the_form_reaches_the_other_reader(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Posted in page A, it appears in page B with the new count, and exactly once in A."""
    a = await open_thread(browser, site.article_url(), problems)
    b = await open_thread(browser, site.article_url(), problems)
    assert await heading(a) == "No comments yet on “NATO annual report”"
    await expect(a.locator(".rt-watchers")).to_have_text("2 reading now", timeout=3 * WAIT)

    await post_through_form(a, "First paragraph.\n\nSecond paragraph,\nwith a line break.")
    await expect(b.locator(".rt-comment")).to_have_count(1)
    await expect(b.locator(".rt-heading")).to_have_text("1 Comment on “NATO annual report”")
    await expect(b.locator(".rt-comment .rt-author")).to_have_text("Ola")
    assert await b.locator(".rt-body p").count() == 2
    assert await b.locator(".rt-body p br").count() == 1
    await expect(b.locator(".rt-comment")).to_have_class(re.compile(r"\brt-new\b"))
    await expect(b.locator("[aria-live=polite]")).to_have_text("New comment from Ola.")

    # B answers; once A shows that later comment, A's own echo (earlier id) has been handled.
    await post_through_form(b, "A reply from B, at the top level.", author="Bea")
    await expect(a.locator(".rt-comment")).to_have_count(2)
    assert await bodies(a) == await bodies(b)
    assert len(set(await comment_ids(a))) == 2
    for page in (a, b):
        await expect(page.locator(".rt-heading")).to_have_text("2 Comments on “NATO annual report”")
    # The form is empty again and the status is live.
    assert await a.locator("form.rt-form").get_by_label("Comment").input_value() == ""
    await expect(a.locator(".rt-status")).to_have_text("Live")


async def test_reply_nests_under_its_parent_in_both_pages(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Reply moves the form under the comment; the reply shows nested in both pages."""
    parent = (await site.post("The parent comment."))["comment"]["id"]
    await site.post("A later top-level comment.")
    a = await open_thread(browser, site.article_url(), problems)
    b = await open_thread(browser, site.article_url(), problems)

    await comment(a, parent).get_by_role("button", name="Reply").first.click()
    form = a.locator("form.rt-form")
    await expect(comment(a, parent).locator("form.rt-form")).to_have_count(1)
    await expect(form.locator(".rt-form-title")).to_have_text("Reply to Kari")
    await expect(form.get_by_label("Comment")).to_be_focused()
    await post_through_form(a, "The reply.", author="Per")

    for page in (a, b):
        nested = comment(page, parent).locator(":scope > .rt-replies > .rt-comment")
        await expect(nested).to_have_count(1)
        await expect(nested.locator(".rt-body")).to_have_text("The reply.")
        await expect(page.locator(".rt-list > .rt-comment")).to_have_count(2)
    # After posting, the form is back at the bottom, as a new comment again.
    await expect(a.locator(".rt-form-home > form.rt-form")).to_have_count(1)
    await expect(form.locator(".rt-form-title")).to_have_text("Leave a comment")


# ---- text stays text -------------------------------------------------------------------------

HOSTILE = [
    '<img src=x onerror="window.pwned=1">',
    "</script><script>window.pwned=2</script>",
    '"><svg onload="window.pwned=3">',
]


async def test_markup_in_comments_is_shown_as_text(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Markup shows literally and never runs, even with the page's CSP switched off."""
    await site.post(HOSTILE[1], author="<b>Mallory</b>")
    # bypass_csp: the CSP would block inline handlers anyway; the rendering must not need it.
    a = await open_thread(browser, site.article_url(), problems, bypass_csp=True)
    b = await open_thread(browser, site.article_url(), problems, bypass_csp=True)
    await post_through_form(a, HOSTILE[0], author=HOSTILE[2])
    # The form's POST is answered before the next post goes in, so the order below is fixed.
    await expect(a.locator(".rt-comment")).to_have_count(2)
    await site.post(
        "See https://example.com/a?b=1, or javascript:alert(1) and http://x.example.", author="Eve"
    )

    for page in (a, b):
        await expect(page.locator(".rt-comment")).to_have_count(3)
        assert await bodies(page) == [
            HOSTILE[1],
            HOSTILE[0],
            "See https://example.com/a?b=1, or javascript:alert(1) and http://x.example.",
        ]
        authors = await page.locator(".rt-author").all_inner_texts()
        assert authors == ["<b>Mallory</b>", HOSTILE[2], "Eve"]
        markup = page.locator(".rt-list img, .rt-list script, .rt-list b, .rt-list iframe")
        assert await markup.count() == 0
        assert await page.locator(".rt-list svg[onload]").count() == 0
        assert await page.evaluate("window.pwned") is None
        links = page.locator(".rt-body a")
        assert await links.count() == 2
        assert await links.nth(0).get_attribute("href") == "https://example.com/a?b=1"
        assert await links.nth(1).get_attribute("href") == "http://x.example"  # as linkified
        for i in range(2):
            assert await links.nth(i).get_attribute("rel") == "nofollow ugc noopener"


async def test_pages_send_a_strict_csp_and_carry_no_inline_code(site: Site) -> None:
    """No unsafe-inline scripts; the HTML files have no inline script or style to need it."""
    for path in ("/", f"/articles/{SLUG}"):
        response = await site.http.get(path)
        csp = response.headers["content-security-policy"]
        script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    templates = [*(ROOT / "static").glob("*.html"), *(ROOT / "templates").glob("*.html")]
    assert templates
    for html in templates:
        text = html.read_text()
        # Only data blocks (type="application/json", never run) may be inline.
        inline = r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"
        assert not re.search(inline, text), html.name
        assert not re.search(r"\sstyle=|<style", text), html.name
    # Markup enters the page in one place only: html.js, with the server's sanitized `html`.
    parsers = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|createContextualFragment|"
        r"document\.write|DOMParser|parseFromString"
    )
    for js in (ROOT / "static").glob("*.js"):
        found = parsers.findall(js.read_text())
        if js.name == "html.js":
            assert found == ["DOMParser", "parseFromString"], found
        else:
            assert found == [], js.name


# ---- the form ------------------------------------------------------------------------------


STALE_LIMIT = """
new MutationObserver((_, observer) => {
  const data = document.getElementById('rt-state');
  if (!data || !data.textContent.includes('"body_max_chars":40')) return;
  data.textContent = data.textContent.replace('"body_max_chars":40', '"body_max_chars":10000');
  observer.disconnect();
}).observe(document, { childList: true, subtree: true, characterData: true });
"""


async def test_server_field_error_shows_next_to_its_field(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """A refusal the client let through (stale limits) is shown by the field the server names."""
    site: Site = await make_site(body_max_chars=40)
    page = await open_page(browser, site.article_url(), problems)

    # The page believes the default limit, as a page rendered before a configuration change
    # would; asked again after the refusal, the server tells the real one. (The page's data is
    # edited as it is parsed: a document fulfilled by a route may not open local WebSockets.)
    await page.add_init_script(STALE_LIMIT)
    await page.reload()
    await wait_live(page)
    posts: list[str] = []
    # Posts of the comment (the form's live preview posts its drafts to /api/preview).
    page.on(
        "request",
        lambda r: posts.append(r.url) if r.method == "POST" and "/preview" not in r.url else None,
    )

    # First the client's own check: an empty name never reaches the server.
    await post_through_form(page, "Fine text.", author="   ")
    author_error = page.locator(".rt-field-author .rt-error")
    await expect(author_error).to_have_text("Please enter your name.")
    assert posts == []

    long_body = "x" * 60
    await post_through_form(page, long_body, author="Kari")
    body_error = page.locator(".rt-field-body .rt-error")
    await expect(body_error).to_have_text("Your comment is 20 characters over the limit of 40.")
    assert len(posts) == 1
    body_field = page.locator("form.rt-form").get_by_label("Comment")
    await expect(body_field).to_have_attribute("aria-invalid", "true")
    described = await body_field.get_attribute("aria-describedby")
    assert described == await body_error.get_attribute("id")
    await expect(page.locator(".rt-field-author .rt-error")).to_be_hidden()
    await expect(page.locator(".rt-field-email .rt-error")).to_be_hidden()
    assert await body_field.input_value() == long_body  # nothing the reader typed is lost
    await expect(page.locator(".rt-comment")).to_have_count(0)

    await body_field.fill("Short enough.")
    await expect(body_error).to_be_hidden()
    await page.get_by_role("button", name="Post comment").click()
    await expect(page.locator(".rt-comment")).to_have_count(1)
    drop_network_noise(problems)  # Chromium logs the 422 itself


async def test_own_comment_can_be_edited_and_deleted_within_the_window(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """Edit/Delete for the author only, applied live elsewhere; gone when the window closes."""
    window = 10 * UNIT
    site: Site = await make_site(edit_window_seconds=int(window))
    a = await open_thread(browser, site.article_url(), problems)
    b = await open_thread(browser, site.article_url(), problems)
    await post_through_form(a, "Keep me, but edited.")
    await expect(a.locator(".rt-comment")).to_have_count(1)
    await post_through_form(a, "Delete me.")
    await expect(b.locator(".rt-comment")).to_have_count(2)
    first, second = await comment_ids(a)
    await expect(a.locator(".rt-edit")).to_have_count(2)
    assert await b.locator(".rt-edit, .rt-delete").count() == 0

    await comment(a, first).get_by_role("button", name="Edit").click()
    editor = comment(a, first).get_by_label("Edit your comment")
    await editor.fill("Kept, and edited.")
    await comment(a, first).get_by_role("button", name="Save").click()
    await expect(comment(b, first).locator(".rt-body")).to_have_text("Kept, and edited.")
    await expect(comment(b, first).locator(".rt-edited")).to_be_visible()

    await a.reload()  # the token survives in localStorage
    await wait_live(a)
    await comment(a, second).get_by_role("button", name="Delete").click()
    await comment(a, second).get_by_role("button", name="Yes, delete").click()
    for page in (a, b):
        await expect(page.locator(".rt-comment")).to_have_count(1)
        await expect(page.locator(".rt-heading")).to_have_text("1 Comment on “NATO annual report”")
    await expect(comment(a, first).locator(".rt-edit")).to_have_count(1)
    await expect(comment(a, first).locator(".rt-edit")).to_have_count(
        0, timeout=int(2 * window * 1000)
    )


async def test_held_comment_waits_for_the_moderator(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """A held comment is not shown (its id is a queue id); once approved it appears everywhere."""
    site: Site = await make_site(moderation="all")
    a = await open_thread(browser, site.article_url(), problems)
    b = await open_thread(browser, site.article_url(), problems)
    await post_through_form(a, "Please approve me.")
    await expect(a.locator(".rt-form-notice")).to_have_text(
        "Thank you. Your comment is awaiting moderation and will appear once approved."
    )
    assert await a.locator(".rt-comment").count() == 0
    stored = await a.evaluate("({...localStorage})")
    stored.pop("realtime:voter")  # the browser's voter token, sent with every post
    assert stored == {"realtime:author": "Ola"}

    admin = {"Authorization": f"Bearer {ADMIN}"}
    pending = (await site.http.get("/api/admin/pending", headers=admin)).json()["pending"]
    assert [held["body"] for held in pending] == ["Please approve me."]
    approved = await site.http.post(f"/api/admin/pending/{pending[0]['id']}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    for page in (a, b):
        await expect(page.locator(".rt-comment")).to_have_count(1)
        await expect(page.locator(".rt-body")).to_have_text("Please approve me.")
        await expect(page.locator(".rt-heading")).to_have_text("1 Comment on “NATO annual report”")
    assert await a.locator(".rt-edit").count() == 0


async def test_closed_article_takes_no_comments(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Closing hides the form and Reply live; a page opened meanwhile starts closed; reopening."""
    await site.post("Before closing.")
    a = await open_thread(browser, site.article_url(), problems)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    closed = await site.http.post(f"/api/admin/articles/{SLUG}/close", headers=admin)
    assert closed.status_code == 200, closed.text
    b = await open_thread(browser, site.article_url(), problems)
    for page in (a, b):
        await expect(page.locator(".rt-closed-note")).to_have_text("Comments are closed.")
        await expect(page.locator("form.rt-form")).to_be_hidden()
        await expect(page.get_by_role("button", name="Reply")).to_be_hidden()
    reopened = await site.http.post(f"/api/admin/articles/{SLUG}/reopen", headers=admin)
    assert reopened.status_code == 200, reopened.text
    for page in (a, b):
        await expect(page.locator("form.rt-form")).to_be_visible()
        await expect(page.locator(".rt-closed-note")).to_be_hidden()
        await expect(page.get_by_role("button", name="Reply")).to_be_visible()


# ---- reconnection --------------------------------------------------------------------------


async def test_server_restart_loses_no_comment(
    browser: Browser, tmp_path: Path, problems: Problems
) -> None:
    """The page's server stops and restarts; comments posted meanwhile appear once, in order,
    and an edit made meanwhile shows too.

    While the page's server (fixed port) is down, the comments and the edit go in over HTTP
    through a second process on the same database, which the page never talks to: they can only
    reach the page through the ?after=&rev= replay when it reconnects to the restarted server.
    """
    db = tmp_path / "restart.db"
    env = {"REALTIME_ADMIN_TOKEN": ADMIN, "REALTIME_RATE_LIMIT": "off"}
    server = ProcessServer(db, port=free_port(), env=env).start()
    other = ProcessServer(db, env=env, log=tmp_path / "other.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
            site = Site(server, http)
            await site.article()
            created = await site.post("Before the restart.")
            first = created["comment"]["id"]
            page = await open_thread(browser, site.article_url(), problems)
            sockets: list[str] = []
            page.on("websocket", lambda ws: sockets.append(ws.url))
            await expect(page.locator(".rt-comment")).to_have_count(1)

            server.stop()
            await expect(page.locator(".rt-status")).to_have_text("Reconnecting…")
            other.start()
            async with httpx.AsyncClient(base_url=other.url, timeout=10 * UNIT) as meanwhile:
                posted = [
                    (await Site(other, meanwhile).post(f"While away {i}."))["comment"]["id"]
                    for i in range(3)
                ]
                edited = await meanwhile.patch(
                    f"/api/comments/{first}",
                    json={"body": "Before the restart, edited while away."},
                    headers={"Authorization": f"Bearer {created['token']}"},
                )
                assert edited.status_code == 200
            other.stop()
            await expect(page.locator(".rt-comment")).to_have_count(1)
            server.start()

            await wait_live(page, timeout=6 * WAIT)
            await expect(page.locator(".rt-comment")).to_have_count(4)
            assert await comment_ids(page) == [first, *posted]
            await expect(comment(page, first).locator(".rt-body").first).to_contain_text(
                "edited while away"
            )
            assert await bodies(page) == [
                "Before the restart, edited while away.",
                "While away 0.",
                "While away 1.",
                "While away 2.",
            ]
            await expect(page.locator(".rt-heading")).to_have_text(
                "4 Comments on “NATO annual report”"
            )
            assert sockets and all(url.endswith(f"?after={first}&rev=0") for url in sockets)
            live = await site.post("After the reconnection.")
            await expect(comment(page, live["comment"]["id"])).to_have_count(1)
            await expect(page.locator(".rt-comment")).to_have_count(5)
    finally:
        server.stop()
        other.stop()
    drop_network_noise(problems)


# ---- paging ----------------------------------------------------------------------------------


async def test_long_thread_loads_in_pages(browser: Browser, site: Site, problems: Problems) -> None:
    """The first page, live comments below, and the rest behind 'Show N more comments'."""
    ids = [(await site.post(f"Comment {i}."))["comment"]["id"] for i in range(62)]
    page = await open_thread(browser, site.article_url(), problems)
    await expect(page.locator(".rt-comment")).to_have_count(50)
    more = page.locator(".rt-gap button")
    await expect(more).to_have_text("Show 12 more comments")

    # Live ones arrive below the gap; a reply to a comment not loaded yet waits there too.
    late = (await site.post("Live, after the gap."))["comment"]["id"]
    reply = (await site.post("Reply into the gap.", parent=ids[55]))["comment"]["id"]
    await expect(page.locator(".rt-comment")).to_have_count(52)
    await expect(comment(page, reply).locator(".rt-replying-to")).to_have_text(
        "replying to an earlier comment"
    )
    await expect(more).to_have_text("Show 12 more comments")

    await more.click()
    await expect(page.locator(".rt-gap")).to_have_count(0)
    await expect(page.locator(".rt-comment")).to_have_count(64)
    top_level = await page.eval_on_selector_all(
        ".rt-list > .rt-comment", "nodes => nodes.map(n => Number(n.dataset.id))"
    )
    assert top_level == [*ids, late]
    nested = comment(page, ids[55]).locator(":scope > .rt-replies > .rt-comment")
    await expect(nested).to_have_attribute("id", f"comment-{reply}")
    await expect(comment(page, reply).locator(".rt-replying-to")).to_be_hidden()


# ---- the list of articles ------------------------------------------------------------------


async def test_article_list_counts_change_live(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """/ lists the articles with their counts, and a new comment bumps its article's count."""
    await site.article("second-story", "Second story")
    await site.post("One.", slug="second-story")
    page = await open_page(browser, f"{site.url}/", problems)
    await expect(page.locator("#status")).to_have_text("Live")
    badge = page.locator('.count[data-slug="nato-annual-report"]')
    await expect(badge).to_have_text("No comments")
    await expect(page.locator('.count[data-slug="second-story"]')).to_have_text("1 comment")
    await site.post("Hello.")
    await expect(badge).to_have_text("1 comment")
    await page.locator(".article-item-title a", has_text=ARTICLE_TITLE).click()
    await expect(page.locator("#article-title")).to_have_text(ARTICLE_TITLE)


# ---- the embed -------------------------------------------------------------------------------


async def test_embed_works_on_an_allowed_origin_and_is_refused_elsewhere(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """Another origin on the list gets the live thread; one not on it gets nothing."""
    allowed, other = StaticSite(), StaticSite()
    try:
        site: Site = await make_site(allowed_origins=[allowed.origin])
        await site.post("Visible from the blog.")
        allowed.pages["/post.html"] = embed_page(site.url, SLUG)
        other.pages["/post.html"] = embed_page(site.url, SLUG)

        blog = await open_thread(browser, f"{allowed.origin}/post.html", problems)
        await expect(blog.locator(".rt-comment")).to_have_count(1)
        await expect(blog.locator(".rt-heading")).to_have_text("1 Comment on “NATO annual report”")
        await post_through_form(blog, "Posted from the blog.")  # CORS preflight and all
        await expect(blog.locator(".rt-comment")).to_have_count(2)
        await site.post("Live into the blog.")
        await expect(blog.locator(".rt-comment")).to_have_count(3)
        await expect(blog.locator(".rt-edit")).to_have_count(1)  # token kept for the blog
        # Our stylesheet came along, scoped to the thread, and nothing spills out of the page.
        radius = "getComputedStyle(document.querySelector('.rt-button')).borderRadius"
        assert await blog.evaluate(radius) == "999px"
        assert await blog.evaluate("getComputedStyle(document.body).fontFamily") != (
            await blog.evaluate("getComputedStyle(document.querySelector('.rt')).fontFamily")
        )
        width = await blog.evaluate("document.documentElement.scrollWidth")
        assert width <= await blog.evaluate("window.innerWidth")

        foreign = await open_page(browser, f"{other.origin}/post.html", problems)
        await expect(foreign.locator("#comments")).to_have_text(
            "Comments could not be loaded on this site."
        )
        assert await foreign.locator(".rt-comment").count() == 0
        # The server refuses this origin everywhere, not just the module import.
        ws_url = site.url.replace("http", "ws") + f"/ws/articles/{SLUG}"
        outcome = await foreign.evaluate(
            """url => new Promise(done => {
                const ws = new WebSocket(url);
                ws.onopen = () => done('open');
                ws.onclose = (event) => done('closed ' + event.code);
            })""",
            ws_url,
        )
        assert outcome == "closed 1006"  # refused at the handshake (HTTP 403)
        fetched = await foreign.evaluate(
            "url => fetch(url).then(() => 'read', () => 'refused')",
            f"{site.url}/api/articles/{SLUG}/comments",
        )
        assert fetched == "refused"
        async with httpx.AsyncClient() as http:
            handshake = await http.get(
                f"{site.url}/ws/articles/{SLUG}",
                headers={
                    "Origin": other.origin,
                    "Connection": "Upgrade",
                    "Upgrade": "websocket",
                    "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                },
            )
        assert handshake.status_code == 403
    finally:
        allowed.close()
        other.close()
    problems.errors[:] = [
        e for e in problems.errors if not (NETWORK_NOISE.search(e) or "could not be loaded" in e)
    ]


# ---- how it looks --------------------------------------------------------------------------


async def test_article_page_screenshots_desktop_and_phone(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """The demo thread at 1280 and 390 px, saved to test-output/; nothing wider than the screen."""
    await site.article(DEMO_SLUG, TITLE, URL)
    ids: list[int] = []
    for author, body, reply_to in COMMENTS:
        parent = ids[reply_to] if reply_to is not None else None
        created = await site.post(body, slug=DEMO_SLUG, author=author, parent=parent)
        ids.append(created["comment"]["id"])
    parent = ids[2]
    for depth, author in enumerate(["Mette", "José Álvarez", "Mette", "Zoë Kowalczyk"]):
        body = f"Depth {depth + 2}: the thread keeps going, see https://news.example/faq."
        parent = (await site.post(body, slug=DEMO_SLUG, author=author, parent=parent))["comment"][
            "id"
        ]

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = await open_thread(browser, site.article_url(DEMO_SLUG), problems, viewport=viewport)
        await expect(page.locator(".rt-comment")).to_have_count(len(COMMENTS) + 4)
        await expect(page.locator(".rt-watchers")).to_be_visible()
        path = await screenshot(page, f"article-{name}.png")
        assert path.stat().st_size > 10_000
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: page is {width}px wide"
        deepest = comment(page, parent).locator(".rt-body")
        box = await deepest.bounding_box()
        assert box is not None and box["width"] >= 0.6 * min(viewport["width"], 700)
        await page.context.close()
