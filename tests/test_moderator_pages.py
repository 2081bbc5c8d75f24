"""Moderators and readers in a real headless Chromium: a ban made on the admin page refuses the
poster in the form; a revoked moderator's page stops working live; word lists hold and refuse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import (
    WAIT,
    Problems,
    open_page,
    open_thread,
    post_through_form,
    screenshot,
)
from tests.conftest import ADMIN, Site
from tests.test_admin_page import HELD_NOTICE, open_admin, queue, sign_in
from tests.test_browser import drop_network_noise
from tests.test_moderators import add_moderator, cli

pytestmark = pytest.mark.browser
expect.set_options(timeout=WAIT)

BANNED = "You are banned from commenting here."


async def ban_through_the_page(admin: Page, reason: str) -> None:
    """Open the held comment's ban form, give a reason, ban for good."""
    held = queue(admin).first
    await held.get_by_role("button", name="Ban…").click()
    form = held.locator("form.adm-ban-form")
    await form.get_by_label("For").select_option(label="For good")
    await form.get_by_label("Reason").fill(reason)
    await screenshot(admin, "admin-ban-form.png")
    await form.get_by_role("button", name="Ban", exact=True).click()
    await expect(held.locator(".adm-ban-done")).to_contain_text("Banned: 127.0.0.0/24 and e-mail")


async def test_a_banned_poster_sees_the_refusal_in_the_form(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """Banned from the held comment on the admin page: the poster's next try is refused in the
    form; the ban is listed (prefix only), in the audit log, and lifting it lets them post."""
    site: Site = await make_site(moderation="all")
    reader = await open_thread(browser, site.article_url(), problems)
    await post_through_form(reader, "Cheap watches!", author="Spammer", email="spam@example.com")
    await expect(reader.locator(".rt-form-notice")).to_have_text(HELD_NOTICE)
    admin = await open_admin(browser, site, problems)
    await expect(queue(admin)).to_have_count(1)
    await ban_through_the_page(admin, "watch spam")

    bans = admin.locator("#bans > .adm-ban-item")
    await expect(bans).to_have_count(1)
    await expect(bans.locator(".adm-ban-what")).to_have_text("127.0.0.0/24 and e-mail, for good")
    await expect(bans.locator(".adm-ban-why")).to_contain_text(
        "“watch spam” · Spammer · by the owner"
    )
    await expect(admin.locator("#audit .adm-audit-what").first).to_have_text(
        "the owner banned the poster of held comment #1"
    )

    await post_through_form(
        reader, "Cheap watches again!", author="Spammer", email="spam@example.com"
    )
    await expect(reader.locator(".rt-form-error")).to_have_text(BANNED)
    await expect(reader.locator("form.rt-form").get_by_label("Comment")).to_have_value(
        "Cheap watches again!"
    )
    await expect(queue(admin)).to_have_count(1)  # nothing new was held

    await admin.locator("#bans-search").fill("nothing like it")
    await expect(admin.locator("#bans-empty")).to_have_text("No ban matches.")
    await admin.locator("#bans-search").fill("watch")
    await expect(bans).to_have_count(1)
    await bans.get_by_role("button", name="Lift").click()
    await expect(bans).to_have_count(0)
    await admin.locator("#bans-all").check()
    await expect(bans.locator(".adm-ban-state")).to_contain_text("Lifted by the owner.")
    await expect(admin.locator("#audit .adm-audit-what").first).to_have_text(
        "the owner lifted a ban on held comment #1"
    )
    await reader.locator("form.rt-form").get_by_role("button", name="Post comment").click()
    await expect(reader.locator(".rt-form-notice")).to_have_text(HELD_NOTICE)
    drop_network_noise(problems)  # Chromium logs the 403 itself


async def test_a_revoked_moderators_page_stops_working_live(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """Signed in with their own token, a moderator is signed out as soon as it is revoked."""
    site: Site = await make_site(moderation="all")
    db = Path(site.server.settings.db)
    token = add_moderator(db, "kari")["Authorization"].removeprefix("Bearer ")
    page = await open_page(browser, f"{site.url}/admin", problems)
    await sign_in(page, token)
    await expect(page.locator("#status")).to_have_text("Live")
    await expect(page.locator("#who")).to_have_text("kari")
    assert cli(db, "moderator", "revoke", "kari").returncode == 0
    await expect(page.locator("#sign-in-error")).to_have_text(
        "Your moderator token has been revoked. Ask for a new one to sign in again."
    )
    await expect(page.locator("#desk")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0
    await sign_in(page, token)
    await expect(page.locator("#sign-in-error")).to_have_text("That admin token was not accepted.")
    await sign_in(page, ADMIN)  # the owner's token still works
    await expect(page.locator("#status")).to_have_text("Live")
    await expect(page.locator("#audit .adm-audit-what").first).to_have_text(
        "the command line revoked a moderator"
    )


async def test_a_held_word_holds_and_a_refused_word_refuses(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """In the reader's form: a hold word sends the comment to moderation, a refuse word is
    named under the comment field and nothing is posted; the admin page shows the lists."""
    site: Site = await make_site(hold_words=["casino"], refuse_words=["idiot"])
    reader = await open_thread(browser, site.article_url(), problems)
    await post_through_form(reader, "The best Casinò in Oslo")
    await expect(reader.locator(".rt-form-notice")).to_have_text(HELD_NOTICE)
    await post_through_form(reader, "You IDIOT")
    body_error = reader.locator(".rt-field-body .rt-error")
    await expect(body_error).to_have_text(
        "Your comment contains “idiot”, which this site does not accept."
    )
    await post_through_form(reader, "Idiotic, but fine")
    await expect(reader.locator(".rt-comment")).to_have_count(1)
    admin = await open_admin(browser, site, problems)
    await expect(queue(admin).locator(".adm-reason")).to_have_text("Held: contains “casino”")
    await expect(admin.locator("#words-summary")).to_have_text(
        "Held for a moderator: “casino”. Refused: “idiot”."
    )
    await admin.get_by_role("button", name="Reload word lists").click()
    await expect(admin.locator("#words-summary")).to_contain_text("Reloaded.")
    drop_network_noise(problems)  # Chromium logs the 422 itself
