"""The moderators' page (/admin) in a real headless Chromium, next to two reader pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, Request, expect

from tests.browser import (
    DESKTOP,
    PHONE,
    WAIT,
    Problems,
    bodies,
    comment_ids,
    open_page,
    open_thread,
    post_through_form,
    screenshot,
)
from tests.conftest import ADMIN, SLUG, Site
from tests.test_browser import HOSTILE

pytestmark = pytest.mark.browser
expect.set_options(timeout=WAIT)

AUTH = {"Authorization": f"Bearer {ADMIN}"}
HELD_NOTICE = "Thank you. Your comment is awaiting moderation and will appear once approved."


@pytest.fixture
async def site(make_site: Callable[..., Any]) -> Site:
    """A server that holds every comment for a moderator."""
    made: Site = await make_site(moderation="all")
    return made


async def sign_in(page: Page, token: str) -> None:
    await page.get_by_label("Admin token").fill(token)
    await page.get_by_role("button", name="Sign in").click()


async def open_admin(browser: Browser, site: Site, problems: Problems, **context: Any) -> Page:
    """The admin page, signed in, with its queue live and the test article's thread shown."""
    page = await open_page(browser, f"{site.url}/admin", problems, **context)
    await sign_in(page, ADMIN)
    await expect(page.locator("#status")).to_have_text("Live")
    await expect(page.locator("#thread-summary")).to_contain_text("to new comments")
    return page


def queue(page: Page) -> Locator:
    return page.locator("#queue > .adm-item")


def thread(page: Page) -> Locator:
    return page.locator("#thread > .adm-item")


async def hold(site: Site, body: str, **fields: Any) -> int:
    """Post over HTTP; the comment is held and this is its id in the queue."""
    created = await site.post(body, **fields)
    assert created["status"] == "pending"
    pending_id: int = created["comment"]["id"]
    return pending_id


async def approve(site: Site, pending_id: int) -> int:
    """Approve over HTTP, as another moderator would; returns the public id."""
    response = await site.http.post(f"/api/admin/pending/{pending_id}/approve", headers=AUTH)
    assert response.status_code == 200, response.text
    comment_id: int = response.json()["id"]
    return comment_id


# ---- the queue -------------------------------------------------------------------------------


async def test_held_comment_reaches_the_queue_live_and_approval_publishes_it_once(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Posted by reader A: queued live, 'awaiting' for A only; Approve shows it once in A and B."""
    a = await open_thread(browser, site.article_url(), problems)
    b = await open_thread(browser, site.article_url(), problems)
    admin = await open_admin(browser, site, problems)
    await expect(admin.locator("#queue-empty")).to_be_visible()
    await expect(admin.locator("#queue-count")).to_have_text("0")

    await post_through_form(a, "Please approve me.\n\nSecond paragraph.")
    held = queue(admin)
    await expect(held).to_have_count(1)
    await expect(held.locator(".adm-body")).to_have_text("Please approve me.\n\nSecond paragraph.")
    await expect(held.locator(".rt-author")).to_have_text("Ola")
    await expect(held.locator(".adm-reason")).to_have_text("Held: every comment is moderated")
    await expect(held.locator(".adm-article")).to_have_text("NATO annual report")
    await expect(admin.locator("#queue-count")).to_have_text("1")
    await expect(admin.locator("#queue-empty")).to_be_hidden()
    assert await admin.title() == "(1) Moderation · Realtime"
    await expect(a.locator(".rt-form-notice")).to_have_text(HELD_NOTICE)
    await expect(b.locator(".rt-form-notice")).to_be_hidden()
    assert await b.get_by_text("awaiting moderation").count() == 0
    for page in (a, b):
        assert await page.locator(".rt-comment").count() == 0

    await held.get_by_role("button", name="Approve").click()
    await expect(held).to_have_count(0)
    await expect(admin.locator("#queue-empty")).to_be_visible()
    for page in (a, b):
        await expect(page.locator(".rt-comment")).to_have_count(1)
        await expect(page.locator(".rt-heading")).to_have_text("1 Comment on “NATO annual report”")
    await expect(thread(admin).locator(".adm-body")).to_have_text(
        ["Please approve me.\n\nSecond paragraph."]
    )

    # Another moderator approves the next one over HTTP: it comes and goes in this queue live.
    # Once the readers show it, every earlier event has reached them too: nothing came twice.
    second = await hold(site, "Approved elsewhere.")
    await expect(held).to_have_count(1)
    public = await approve(site, second)
    await expect(held).to_have_count(0)
    for page in (a, b):
        await expect(page.locator(f"#comment-{public}")).to_have_count(1)
        assert await bodies(page) == [
            "Please approve me.\n\nSecond paragraph.",
            "Approved elsewhere.",
        ]
        assert len(set(await comment_ids(page))) == 2
    await expect(thread(admin)).to_have_count(2)
    await expect(admin.locator("#queue-count")).to_have_text("0")


async def test_reject_removes_it_everywhere_without_publishing(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Reject in one admin page: gone from both moderators' queues, never shown to readers."""
    reader = await open_thread(browser, site.article_url(), problems)
    first = await open_admin(browser, site, problems)
    other = await open_admin(browser, site, problems)
    await post_through_form(reader, "Reject me.")
    for page in (first, other):
        await expect(queue(page)).to_have_count(1)
    await hold(site, "Keep me waiting.", author="Bea")
    for page in (first, other):
        await expect(queue(page).locator(".rt-author")).to_have_text(["Ola", "Bea"])

    await queue(first).filter(has_text="Reject me.").get_by_role("button", name="Reject").click()
    for page in (first, other):
        await expect(queue(page).locator(".adm-body")).to_have_text(["Keep me waiting."])
        await expect(page.locator("#queue-count")).to_have_text("1")
    pending = (await site.http.get("/api/admin/pending", headers=AUTH)).json()["pending"]
    assert [held["body"] for held in pending] == ["Keep me waiting."]

    # A later approval reaches the reader; the rejected comment never did before it.
    public = await approve(site, pending[0]["id"])
    await expect(reader.locator(f"#comment-{public}")).to_have_count(1)
    assert await bodies(reader) == ["Keep me waiting."]
    assert (await site.http.get(f"/api/articles/{SLUG}")).json()["count"] == 1
    for page in (first, other):
        await expect(queue(page)).to_have_count(0)
        await expect(thread(page).locator(".adm-body")).to_have_text(["Keep me waiting."])


# ---- the published thread ----------------------------------------------------------------------


async def test_delete_and_close_reach_the_readers_live(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Delete removes a published comment from the readers; Close hides their form; Reopen."""
    kept = await approve(site, await hold(site, "Stays."))
    doomed = await approve(site, await hold(site, "Goes.", author="Troll"))
    a = await open_thread(browser, site.article_url(), problems)
    b = await open_thread(browser, site.article_url(), problems)
    admin = await open_admin(browser, site, problems)
    await expect(thread(admin).locator(".adm-body")).to_have_text(["Goes.", "Stays."])
    await expect(admin.locator("#thread-summary")).to_contain_text(
        "2 comments · open to new comments"
    )

    item = admin.locator(f"#published-{doomed}")
    await item.get_by_role("button", name="Delete").click()
    await expect(item.locator(".rt-confirm")).to_have_text("Delete this comment for everyone?")
    await item.get_by_role("button", name="Yes, delete").click()
    for page in (a, b):
        await expect(page.locator(".rt-comment")).to_have_count(1)
        await expect(page.locator(f"#comment-{kept}")).to_have_count(1)
        await expect(page.locator(".rt-heading")).to_have_text("1 Comment on “NATO annual report”")
    await expect(thread(admin)).to_have_count(1)
    await expect(admin.locator("#thread-summary")).to_contain_text("1 comment · open")

    toggle = admin.locator("#close-toggle")
    await expect(toggle).to_have_text("Close comments")
    await toggle.click()
    for page in (a, b):
        await expect(page.locator(".rt-closed-note")).to_have_text("Comments are closed.")
        await expect(page.locator("form.rt-form")).to_be_hidden()
        await expect(page.get_by_role("button", name="Reply")).to_be_hidden()
    await expect(toggle).to_have_text("Reopen comments")
    await expect(admin.locator("#thread-summary")).to_contain_text("closed to new comments")
    assert (await site.http.get(f"/api/articles/{SLUG}")).json()["closed"] is True

    await toggle.click()
    for page in (a, b):
        await expect(page.locator("form.rt-form")).to_be_visible()
        await expect(page.locator(".rt-closed-note")).to_be_hidden()
    await expect(toggle).to_have_text("Close comments")


# ---- the token ---------------------------------------------------------------------------------


async def test_token_is_kept_only_once_accepted(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """A wrong token shows an error and keeps nothing; the right one survives a reload only."""
    response = await site.http.get("/admin")
    assert (
        response.status_code == 200
        and "script-src 'self'" in response.headers["content-security-policy"]
    )
    page = await open_page(browser, f"{site.url}/admin", problems)
    await sign_in(page, "not-the-admin-token")
    await expect(page.locator("#sign-in-error")).to_have_text("That admin token was not accepted.")
    await expect(page.locator("#desk")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0
    assert await page.evaluate("localStorage.length") == 0
    await page.reload()
    await expect(page.get_by_label("Admin token")).to_be_visible()
    await expect(page.locator("#desk")).to_be_hidden()

    await sign_in(page, ADMIN)
    await expect(page.locator("#status")).to_have_text("Live")
    assert await page.evaluate("sessionStorage.getItem('realtime:admin-token')") == ADMIN
    assert await page.evaluate("localStorage.length") == 0
    assert ADMIN not in page.url
    await page.reload()  # typed once: the tab remembers it
    await expect(page.locator("#status")).to_have_text("Live")
    await expect(page.locator("#desk")).to_be_visible()

    other_tab = await open_page(browser, f"{site.url}/admin", problems)
    await expect(other_tab.get_by_label("Admin token")).to_be_visible()
    assert await other_tab.evaluate("sessionStorage.length") == 0

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("Admin token")).to_be_visible()
    await expect(page.locator("#desk")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0


async def test_markup_in_a_held_comment_is_shown_as_text(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Hostile name and body show literally in the queue and the thread, and never run."""
    admin = await open_admin(browser, site, problems, bypass_csp=True)
    pending_id = await hold(site, HOSTILE[0], author=HOSTILE[2])
    await hold(site, HOSTILE[1], author="<b>Mallory</b>")
    await expect(queue(admin).locator(".adm-body")).to_have_text(HOSTILE[:2])
    await expect(queue(admin).locator(".rt-author")).to_have_text([HOSTILE[2], "<b>Mallory</b>"])
    await approve(site, pending_id)
    await expect(thread(admin).locator(".adm-body")).to_have_text([HOSTILE[0]])
    await expect(thread(admin).locator(".rt-author")).to_have_text([HOSTILE[2]])
    markup = admin.locator("#desk img, #desk script, #desk b, #desk iframe, #desk svg[onload]")
    assert await markup.count() == 0
    assert await admin.evaluate("window.pwned") is None


# ---- the reader's form: the honeypot -----------------------------------------------------------


async def test_reader_form_has_an_off_screen_honeypot(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """`website`: off-screen, untabbable, unannounced, sent as is; filled in, the comment waits."""
    site: Site = await make_site()  # moderation off: only the honeypot holds a comment
    page = await open_thread(browser, site.article_url(), problems)
    sent: list[Any] = []

    def record(request: Request) -> None:
        if request.method == "POST":
            sent.append(request.post_data_json)

    page.on("request", record)
    trap = page.locator('form.rt-form input[name="website"]')
    await expect(trap).to_have_count(1)
    assert await trap.get_attribute("tabindex") == "-1"
    assert await trap.get_attribute("autocomplete") == "off"
    assert await trap.evaluate("el => el.closest('[aria-hidden=true]') !== null")
    assert await trap.evaluate("el => getComputedStyle(el.parentElement).display") != "none"
    box = await trap.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0  # off the left edge
    await expect(page.get_by_role("textbox", name="Website")).to_have_count(0)

    await post_through_form(page, "A person wrote this.")
    await expect(page.locator(".rt-comment")).to_have_count(1)
    assert sent[-1]["website"] == ""

    await trap.fill("  http://spam.example/  ", force=True)
    await post_through_form(page, "A bot wrote this.", author="Bot")
    await expect(page.locator(".rt-form-notice")).to_have_text(HELD_NOTICE)
    assert sent[-1]["website"] == "  http://spam.example/  "
    pending = (await site.http.get("/api/admin/pending", headers=AUTH)).json()["pending"]
    assert [(p["body"], p["reason"]) for p in pending] == [
        ("A bot wrote this.", "honeypot field filled in")
    ]
    assert await page.locator(".rt-comment").count() == 1


# ---- how it looks ------------------------------------------------------------------------------


async def test_admin_page_screenshots_desktop_and_phone(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """A queue and a thread at 1280 and 390 px, saved to test-output/; nothing wider than that."""
    for body in ("Fine.", "Thanks for the report,\nvery useful.\n\nSee you."):
        await approve(site, await hold(site, body, author="Mette"))
    parent = await approve(site, await hold(site, "Is this true?", author="José Álvarez"))
    await hold(site, "BUY CHEAP WATCHES http://spam.example/watches " * 3, author="Spammer")
    await hold(site, "I disagree, and here is why: " + "long " * 40, author="Zoë Kowalczyk")
    await hold(site, "A reply that waits.", author="Per", parent=parent)

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        admin = await open_admin(browser, site, problems, viewport=viewport)
        await expect(queue(admin)).to_have_count(3)
        await expect(thread(admin)).to_have_count(3)
        await expect(queue(admin).locator(".adm-article")).to_have_text(["NATO annual report"] * 3)
        path = await screenshot(admin, f"admin-{name}.png")
        assert path.stat().st_size > 10_000
        width = await admin.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: page is {width}px wide"
        await admin.context.close()
