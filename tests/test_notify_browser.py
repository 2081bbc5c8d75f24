"""The "notify me of replies" box and the dead-notification list, in a real headless Chromium."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Request, Route, expect

from tests.browser import WAIT, Problems, open_thread, post_through_form, screenshot
from tests.conftest import Site
from tests.notify_parts import PUBLIC_URL, Mailbox, SmtpServer
from tests.servers import wait_for
from tests.test_a11y import axe_violations
from tests.test_admin_page import open_admin

pytestmark = pytest.mark.browser
expect.set_options(timeout=WAIT)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    server = SmtpServer(box).start()
    yield box
    server.stop()


def mail(mailbox: Mailbox, **settings: Any) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "mail_from": "comments@example.org",
        "public_url": PUBLIC_URL,
        "notify_poll_seconds": 0.1,
        **settings,
    }


async def test_notify_box_asks_for_an_address_then_subscribes(
    mailbox: Mailbox, make_site: Callable[..., Any], browser: Browser, problems: Problems
) -> None:
    """Ticked without an e-mail, the form asks for one; with one, the POST carries
    `notify: true` and the address gets a confirmation mail."""
    site: Site = await make_site(**mail(mailbox))
    page = await open_thread(browser, site.article_url(), problems)
    form = page.locator("form.rt-form")
    box = form.get_by_label("Notify me of replies")
    await expect(box).to_be_visible()
    await box.check()
    await post_through_form(page, "Tell me when someone answers.", email="")
    await expect(form.locator(".rt-field-email .rt-error")).to_have_text(
        "Enter your e-mail address to be told about replies."
    )
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request) if request.method == "POST" else None)
    await post_through_form(page, "Tell me when someone answers.", email="kari@example.org")
    await expect(form.locator(".rt-form-notice")).to_contain_text("We will e-mail you")
    body = json.loads(sent[-1].post_data or "{}")
    assert body["notify"] is True and body["email"] == "kari@example.org"
    await wait_for(lambda: len(mailbox.to("kari@example.org")) == 1)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_notify_box_in_both_themes_has_no_axe_findings(
    mailbox: Mailbox,
    make_site: Callable[..., Any],
    browser: Browser,
    problems: Problems,
    scheme: str,
) -> None:
    """The form with the box, in the reader's light and dark scheme: WCAG 2.1 AA (contrast
    included) holds, and a screenshot of each to look at."""
    site: Site = await make_site(**mail(mailbox))
    page = await open_thread(
        browser, site.article_url(), problems, color_scheme=scheme, bypass_csp=True
    )
    await expect(page.get_by_label("Notify me of replies")).to_be_visible()
    await screenshot(page, f"notify-form-{scheme}.png")
    assert await axe_violations(page) == []


async def test_no_box_without_mail(
    make_site: Callable[..., Any], browser: Browser, problems: Problems
) -> None:
    """A server that cannot send mail does not offer the box."""
    site: Site = await make_site()
    page = await open_thread(browser, site.article_url(), problems)
    await expect(page.get_by_label("Notify me of replies")).to_be_hidden()


async def test_admin_lists_dead_notifications_and_retries(
    mailbox: Mailbox, make_site: Callable[..., Any], browser: Browser, problems: Problems
) -> None:
    """The admin page lists a dead notification with its last error (no address); Retry sends it."""
    mailbox.refuse = "554 5.7.1 <kari@example.org>: rejected"
    site: Site = await make_site(**mail(mailbox, notify_max_attempts=1))
    await site.post("Hello", email="kari@example.org", notify=True)
    await wait_for(lambda: mailbox.tries == 1)
    page = await open_admin(browser, site, problems)
    await page.get_by_role("button", name="Refresh").click()
    item = page.locator("#notices > .adm-notice")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("confirm by e-mail, 1 attempts")
    await expect(item).to_contain_text("554")
    assert "kari@" not in (await page.content()).lower()
    mailbox.refuse = None
    await item.get_by_role("button", name="Retry").click()
    await expect(item).to_contain_text("Sending again.")
    await wait_for(lambda: len(mailbox.messages) == 1)


async def test_a_list_asked_for_before_a_retry_does_not_undo_it(
    mailbox: Mailbox, make_site: Callable[..., Any], browser: Browser, problems: Problems
) -> None:
    """A Refresh answered after a Retry (asked for before it) is dropped: the notice keeps its
    "Sending again.", and its Retry button stays disabled. (Seen in a parallel run: the page
    put the retried notice back as dead.)"""
    mailbox.refuse = "554 5.7.1 <kari@example.org>: rejected"
    site: Site = await make_site(**mail(mailbox, notify_max_attempts=1))
    await site.post("Hello", email="kari@example.org", notify=True)
    await wait_for(lambda: mailbox.tries == 1)
    page = await open_admin(browser, site, problems)
    item = page.locator("#notices > .adm-notice")
    await page.get_by_role("button", name="Refresh").click()
    await expect(item).to_have_count(1)

    held: asyncio.Queue[Route] = asyncio.Queue()
    await page.route("**/api/admin/notifications", held.put_nowait)  # the list, not the retry
    await page.get_by_role("button", name="Refresh").click()
    stale = await asyncio.wait_for(held.get(), WAIT / 1000)
    read_before = await stale.fetch()  # the server's answer now: the notice is dead
    mailbox.refuse = None
    await item.get_by_role("button", name="Retry").click()
    await expect(item).to_contain_text("Sending again.")
    async with page.expect_response("**/api/admin/notifications") as answered:
        await stale.fulfill(response=read_before)  # ... reaching the page after the retry
    await (await answered.value).finished()
    await page.evaluate("() => new Promise((done) => setTimeout(done, 200))")  # let it render
    await expect(item).to_contain_text("Sending again.")
    await expect(item.get_by_role("button", name="Retry")).to_be_disabled()
    await wait_for(lambda: len(mailbox.messages) == 1)
