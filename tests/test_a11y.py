"""Accessibility in a real Chromium: axe-core finds nothing at WCAG 2.1 AA on any page (light and
dark, desktop and phone), new comments are announced politely and together, focus stays put."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from realtime.demo import COMMENTS, TITLE, URL
from realtime.demo import SLUG as DEMO_SLUG
from tests.browser import (
    DESKTOP,
    PHONE,
    WAIT,
    Problems,
    open_page,
    open_thread,
    post_through_form,
    screenshot,
    wait_live,
)
from tests.conftest import ADMIN, Site
from tests.servers import ROOT

pytestmark = pytest.mark.browser
expect.set_options(timeout=WAIT)

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']})"
SCHEMES = ("light", "dark")
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
async def demo(make_site: Callable[..., Any]) -> Site:
    """The demo thread (replies four deep), one held comment, and a second article."""
    site: Site = await make_site(max_links=0)
    await site.article(DEMO_SLUG, TITLE, URL)
    ids: list[int] = []
    for author, body, reply_to in COMMENTS:
        parent = ids[reply_to] if reply_to is not None else None
        created = await site.post(body, slug=DEMO_SLUG, author=author, parent=parent)
        ids.append(created["comment"]["id"])
    parent = ids[2]
    for depth, author in enumerate(["Mette", "José Álvarez", "Mette", "Zoë Kowalczyk"]):
        body = f"Depth {depth + 2}."
        created = await site.post(body, slug=DEMO_SLUG, author=author, parent=parent)
        parent = created["comment"]["id"]
    held = await site.post("See http://spam.example/ now", slug=DEMO_SLUG, author="Spammer")
    assert held["status"] == "pending"
    return site


async def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.0/2.1 A and AA findings on the page as it is now, one line each."""
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run scripts/axe-core.sh (make test does)")
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(RUN_AXE)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + json.dumps([node["target"] for node in v["nodes"]][:5])
        for v in result["violations"]
    ]


async def check_page(
    browser: Browser, url: str, problems: Problems, name: str, ready: Callable[[Page], Any]
) -> None:
    """The page in every scheme and width: no violations, and a screenshot of each."""
    found: dict[str, list[str]] = {}
    for scheme in SCHEMES:
        for width, viewport in VIEWPORTS.items():
            # bypass_csp: the strict CSP would refuse the injected axe script (TESTING.md).
            page = await open_page(
                browser, url, problems, viewport=viewport, color_scheme=scheme, bypass_csp=True
            )
            await ready(page)
            await screenshot(page, f"a11y-{name}-{scheme}-{width}.png")
            found[f"{scheme} {width}"] = await axe_violations(page)
            await page.context.close()
    assert found == {key: [] for key in found}


async def test_index_page_has_no_axe_violations(
    browser: Browser, demo: Site, problems: Problems
) -> None:
    """/ with live counts: 0 violations at WCAG 2.1 AA, light and dark, desktop and phone."""

    async def ready(page: Page) -> None:
        await expect(page.locator("#status")).to_have_text("Live")

    await check_page(browser, f"{demo.url}/", problems, "index", ready)


async def test_article_page_has_no_axe_violations(
    browser: Browser, demo: Site, problems: Problems
) -> None:
    """The demo thread, live, and its form showing errors: 0 violations, every scheme and width."""

    async def ready(page: Page) -> None:
        await wait_live(page)
        await page.locator("form.rt-form").get_by_role("button", name="Post comment").click()
        await expect(page.locator(".rt-field-body .rt-error")).to_be_visible()

    await check_page(browser, demo.article_url(DEMO_SLUG), problems, "article", ready)


async def test_admin_page_has_no_axe_violations(
    browser: Browser, demo: Site, problems: Problems
) -> None:
    """/admin signed out, then signed in with a held comment and a thread: 0 violations."""

    async def ready(page: Page) -> None:
        assert await axe_violations(page) == []  # the sign-in form
        await page.get_by_label("Admin token").fill(ADMIN)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#queue > .adm-item")).to_have_count(1)
        await expect(page.locator("#thread-summary")).to_contain_text("to new comments")

    await check_page(browser, f"{demo.url}/admin", problems, "admin", ready)


# ---- screen readers and focus ------------------------------------------------------------------


async def test_new_comments_are_announced_politely_and_together(
    browser: Browser, demo: Site, problems: Problems
) -> None:
    """One polite live region; one comment names its author, a flood is "3 new comments."."""
    page = await open_thread(browser, demo.article_url(DEMO_SLUG), problems)
    regions = page.locator(".rt-thread [aria-live]")
    await expect(regions).to_have_count(1)
    assert await regions.get_attribute("aria-live") == "polite"
    await demo.post("Just one.", slug=DEMO_SLUG, author="Solveig")
    await expect(regions).to_have_text("New comment from Solveig.")
    for i in range(3):
        await demo.post(f"Flood {i}.", slug=DEMO_SLUG, author="Per")
    await expect(regions).to_have_text("3 new comments.")


async def test_focus_and_typing_stay_where_they_are_when_comments_arrive(
    browser: Browser, demo: Site, problems: Problems
) -> None:
    """A reader writing a reply keeps focus, text and place on screen while others post."""
    page = await open_thread(browser, demo.article_url(DEMO_SLUG), problems, viewport=PHONE)
    field = page.locator("form.rt-form").get_by_label("Comment")
    await field.click()
    await field.type("Halfway through a thought")
    before = await field.bounding_box()
    count = await page.locator(".rt-comment").count()
    for i in range(4):
        await demo.post(f"Meanwhile {i}.\n\nWith a second paragraph.", slug=DEMO_SLUG)
    await expect(page.locator(".rt-comment")).to_have_count(count + 4)
    await expect(field).to_be_focused()
    assert await field.input_value() == "Halfway through a thought"
    after = await field.bounding_box()
    assert before is not None and after is not None
    assert abs(after["y"] - before["y"]) < 2, "the field moved on screen"

    # With the form at the top of the screen (the browser's own anchoring would hold it too),
    # it still does not move: the two adjustments do not add up.
    await field.evaluate("el => el.scrollIntoView({block: 'start'})")
    before = await field.bounding_box()
    await demo.post("One more.", slug=DEMO_SLUG)
    await expect(page.locator(".rt-comment")).to_have_count(count + 5)
    after = await field.bounding_box()
    assert before is not None and after is not None
    assert abs(after["y"] - before["y"]) < 2, "the field moved on screen"
    await expect(field).to_be_focused()
    await post_through_form(page, "Finished.")
    await expect(page.locator(".rt-comment")).to_have_count(count + 6)


UNNAMED_CONTROLS = """() =>
  [...document.querySelectorAll('a[href], button, input:not([type=hidden]), textarea, select')]
    .filter((el) => !el.closest('[aria-hidden=true]'))
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 80))"""


async def test_every_control_has_a_name_and_errors_are_tied_to_fields(
    browser: Browser, demo: Site, problems: Problems
) -> None:
    """Buttons, links and fields have accessible names; each error is the field's description."""
    page = await open_thread(browser, demo.article_url(DEMO_SLUG), problems)
    unnamed = await page.evaluate(UNNAMED_CONTROLS)
    assert unnamed == []
    form = page.locator("form.rt-form")
    await form.get_by_role("button", name="Post comment").click()
    errors = (("body", "Please write a comment."), ("author", "Please enter your name."))
    for name, message in errors:
        control = form.locator(f"[name={name}]")
        await expect(control).to_have_attribute("aria-invalid", "true")
        described = await control.get_attribute("aria-describedby")
        await expect(page.locator(f"#{described}")).to_have_text(message)
    await expect(form.get_by_label("Comment")).to_be_focused()
