"""The server-rendered pages: readable without JavaScript, the form posts as plain HTML with
CSRF protection, and with JavaScript the client adopts the rendered thread without refetching."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Request, expect

from tests.browser import WAIT, Problems, open_page, open_thread, wait_live
from tests.conftest import ADMIN, ARTICLE_TITLE, SLUG, Site

expect.set_options(timeout=WAIT)
TOKEN = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@pytest.fixture
async def site(make_site: Callable[..., Any]) -> Site:
    made: Site = await make_site()
    return made


def state_of(page_html: str) -> dict[str, Any]:
    """The page's data block, as the client reads it."""
    found = re.search(r'<script type="application/json" id="rt-state">(.*?)</script>', page_html)
    assert found, "no data block"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


async def form_token(site: Site, path: str | None = None) -> str:
    """Open the article page as a browser would (its cookie kept); the form's CSRF token."""
    response = await site.http.get(path or f"/articles/{SLUG}")
    assert response.status_code == 200
    found = TOKEN.search(response.text)
    assert found
    return found.group(1)


async def post_form(site: Site, origin: str | None = "own", **fields: str) -> httpx.Response:
    """POST the article's form urlencoded, as a browser without JavaScript does."""
    headers = {"Origin": site.url if origin == "own" else origin} if origin else {}
    return await site.http.post(f"/articles/{SLUG}", data=fields, headers=headers)


# ---- reading without JavaScript ----------------------------------------------------------------


async def test_article_page_carries_the_thread_and_the_form(site: Site) -> None:
    """Count, comments (text as text), replies nested, the form and the same data as the API."""
    parent = await site.post("<b>bold?</b>\n\nsee https://example.com/x.", author="<i>Ann</i>")
    reply = await site.post("A reply.", author="Per", parent=parent["comment"]["id"])
    response = await site.http.get(f"/articles/{SLUG}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert "2 Comments on “NATO annual report”" in page
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page and "<b>bold" not in page
    assert "&lt;i&gt;Ann&lt;/i&gt;" in page
    assert '<a href="https://example.com/x" target="_blank" rel="nofollow ugc noopener"' in page
    nested = re.search(
        rf'id="comment-{parent["comment"]["id"]}".*<ol class="rt-replies"><li class="rt-comment" '
        rf'id="comment-{reply["comment"]["id"]}"',
        page,
        re.DOTALL,  # a body's html may span lines
    )
    assert nested, "the reply is not nested under its parent"
    for name in ("body", "author", "email", "website", "csrf"):
        assert f'name="{name}"' in page
    api = (await site.http.get(f"/api/articles/{SLUG}/comments?limit=50")).json()
    assert state_of(page)["page"] == api


async def test_data_block_cannot_be_broken_out_of(site: Site) -> None:
    """A comment containing </script> stays inside the JSON block and decodes back exactly."""
    hostile = "</script><script>alert(1)</script><!--"
    await site.post(hostile, author="</script>")
    page = (await site.http.get(f"/articles/{SLUG}")).text
    assert "<script>alert" not in page and "<!--" not in page
    assert state_of(page)["page"]["comments"][0]["body"] == hostile


async def test_unknown_article_is_a_404_page_and_the_index_lists_counts(site: Site) -> None:
    """An unknown slug answers an HTML 404; / lists every article with its count, rendered."""
    missing = await site.http.get("/articles/no-such-story")
    assert missing.status_code == 404
    assert "Page not found" in missing.text and "text/html" in missing.headers["content-type"]
    await site.article("second-story", "Second <story>")
    await site.post("One.", slug="second-story")
    index = (await site.http.get("/")).text
    assert "Second &lt;story&gt;" in index
    assert re.search(r'data-slug="second-story">1 comment<', index)
    assert re.search(rf'data-slug="{SLUG}">No comments<', index)


async def test_long_thread_pages_by_links(site: Site) -> None:
    """Past the first 50, a link leads to the next page; replies across pages say so."""
    ids = [(await site.post(f"Comment {i}."))["comment"]["id"] for i in range(55)]
    late = await site.post("A late reply.", parent=ids[0])
    first = (await site.http.get(f"/articles/{SLUG}")).text
    assert len(re.findall(r'<li class="rt-comment"', first)) == 50
    assert f'?after={ids[49]}#comments">Show 6 more comments<' in first
    second = (await site.http.get(f"/articles/{SLUG}?after={ids[49]}")).text
    assert len(re.findall(r'<li class="rt-comment"', second)) == 6
    assert "replying to an earlier comment" in second
    assert f'id="comment-{late["comment"]["id"]}"' in second


# ---- the form without JavaScript ----------------------------------------------------------------


async def test_form_post_redirects_to_the_new_comment(site: Site) -> None:
    """A valid form post is 303 to the comment's anchor; it is published like any other."""
    token = await form_token(site)
    response = await post_form(site, csrf=token, author=" Kari ", body="From a form.", email="")
    assert response.status_code == 303
    comments = (await site.http.get(f"/api/articles/{SLUG}/comments")).json()["comments"]
    assert [(c["author"], c["body"]) for c in comments] == [("Kari", "From a form.")]
    new_id = comments[0]["id"]
    assert response.headers["location"] == f"/articles/{SLUG}?posted={new_id}#comment-{new_id}"
    landed = (await site.http.get(response.headers["location"])).text
    assert "Thank you. Your comment is posted." in landed


async def test_form_reply_and_a_comment_beyond_the_first_page(site: Site) -> None:
    """A reply keeps its parent; past the first page the redirect names the page it is on."""
    parent = (await site.post("Parent."))["comment"]["id"]
    page = (await site.http.get(f"/articles/{SLUG}?reply={parent}")).text
    assert "Reply to Kari" in page and f'name="parent" value="{parent}"' in page
    token = TOKEN.search(page)
    assert token
    reply = await post_form(
        site, csrf=token.group(1), author="Per", body="Reply.", parent=str(parent)
    )
    assert reply.status_code == 303
    created = (await site.http.get(f"/api/articles/{SLUG}/comments")).json()["comments"][-1]
    assert created["parent"] == parent
    for i in range(50):
        await site.post(f"Filler {i}.")
    late = await post_form(site, csrf=token.group(1), author="Per", body="Page two.")
    last = (await site.http.get(f"/api/articles/{SLUG}/comments?after=50")).json()["comments"]
    new_id = last[-1]["id"]
    assert late.headers["location"] == (
        f"/articles/{SLUG}?posted={new_id}&after={new_id - 1}#comment-{new_id}"
    )


async def test_form_errors_are_shown_by_their_fields_with_the_text_kept(site: Site) -> None:
    """An empty comment: 422, the page again, the error tied to the field, nothing stored."""
    token = await form_token(site)
    response = await post_form(
        site, csrf=token, author="Kari <3", body="   ", email="not-an-address"
    )
    assert response.status_code == 422
    page = response.text
    assert re.search(
        r'<textarea[^>]*aria-invalid="true" aria-describedby="rt-body-error">\s*</textarea>', page
    )
    assert '<p class="rt-error" id="rt-body-error">Please write a comment.</p>' in page
    assert re.search(r'name="email" value="not-an-address" aria-invalid="true"', page)
    assert 'value="Kari &lt;3"' in page  # the name is kept, as text
    assert '<p class="rt-error" id="rt-author-error" hidden></p>' in page
    assert (await site.http.get(f"/api/articles/{SLUG}")).json()["count"] == 0
    long_body = "x" * 10_001
    again = await post_form(site, csrf=token, author="Kari", body=long_body)
    assert again.status_code == 422
    assert "Your comment is 1 characters over the limit of 10000." in again.text
    assert f">{long_body}</textarea>" in again.text


async def test_form_follows_the_same_rules_as_the_api(make_site: Callable[..., Any]) -> None:
    """The honeypot and moderation hold a form's comment; limits refuse it with a message."""
    site: Site = await make_site(rate_limit="on", comment_burst=1, comments_per_minute=1)
    token = await form_token(site)
    held = await post_form(site, csrf=token, author="Bot", body="Spam.", website="http://x.example")
    assert held.status_code == 303
    assert held.headers["location"] == f"/articles/{SLUG}?held=1#rt-form"
    landed = (await site.http.get(held.headers["location"])).text
    assert "Your comment is awaiting moderation and will appear once approved." in landed
    pending = await site.http.get(
        "/api/admin/pending", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert [p["reason"] for p in pending.json()["pending"]] == ["honeypot field filled in"]
    limited = await post_form(site, csrf=token, author="Kari", body="Too soon.")
    assert limited.status_code == 429
    assert "Too many comments at once. Please wait" in limited.text
    assert ">Too soon.</textarea>" in limited.text


async def test_cross_site_posts_are_refused_and_change_nothing(site: Site) -> None:
    """Another Origin, a missing or foreign token, or no cookie: 403, a clear page, no comment."""
    token = await form_token(site)
    fields = {"author": "Mallory", "body": "Forged."}
    attempts = [
        await post_form(site, origin="https://evil.example", csrf=token, **fields),
        await post_form(site, origin="null", csrf=token, **fields),
        await post_form(site, csrf="0" * 64, **fields),
        await post_form(site, **fields),
    ]
    referer = {"Referer": "https://evil.example/page"}
    attempts.append(
        await site.http.post(f"/articles/{SLUG}", data={"csrf": token, **fields}, headers=referer)
    )
    async with httpx.AsyncClient(base_url=site.url) as cookieless:
        attempts.append(
            await cookieless.post(
                f"/articles/{SLUG}", data={"csrf": token, **fields}, headers={"Origin": site.url}
            )
        )
    for response in attempts:
        assert response.status_code == 403
        assert "The comment was not posted" in response.text
        assert "Forged." not in response.text
    assert (await site.http.get(f"/api/articles/{SLUG}")).json()["count"] == 0


async def test_form_refuses_bodies_it_cannot_take(site: Site) -> None:
    """JSON to the form, an oversized or undecodable body: 415, 413, 400 pages; nothing stored."""
    token = await form_token(site)
    url, own = f"/articles/{SLUG}", {"Origin": site.url}
    as_json = await site.http.post(
        url, json={"csrf": token, "author": "A", "body": "B"}, headers=own
    )
    assert as_json.status_code == 415
    huge = await site.http.post(url, data={"csrf": token, "body": "x" * 70_000}, headers=own)
    assert huge.status_code == 413
    form = {**own, "Content-Type": "application/x-www-form-urlencoded"}
    broken = await site.http.post(url, content=b"body=%ff%fe&csrf=" + token.encode(), headers=form)
    assert broken.status_code == 400
    for response in (as_json, huge, broken):
        assert "text/html" in response.headers["content-type"]
    assert (await site.http.get(f"/api/articles/{SLUG}")).json()["count"] == 0


# ---- Chromium without JavaScript ----------------------------------------------------------------


@pytest.mark.browser
async def test_reading_and_posting_with_javascript_off(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """Read the thread, see the error for an empty comment (text kept), post, reply."""
    await site.post("Already here.", author="Ann")
    page = await open_page(browser, site.article_url(), problems, java_script_enabled=False)
    await expect(page.locator(".rt-heading")).to_have_text(f"1 Comment on “{ARTICLE_TITLE}”")
    await expect(page.locator(".rt-comment .rt-body")).to_have_text("Already here.")
    form = page.locator("form.rt-form")

    await form.get_by_label("Name").fill("Ola")
    await form.get_by_role("button", name="Post comment").click()
    await expect(form.locator("#rt-body-error")).to_have_text("Please write a comment.")
    await expect(form.get_by_label("Comment")).to_have_attribute(
        "aria-describedby", "rt-body-error"
    )
    await expect(form.get_by_label("Name")).to_have_value("Ola")

    await form.get_by_label("Comment").fill("Posted without JavaScript.")
    await form.get_by_role("button", name="Post comment").click()
    await expect(page.locator(".rt-comment")).to_have_count(2)
    new_id = (await site.http.get(f"/api/articles/{SLUG}/comments")).json()["comments"][1]["id"]
    assert page.url.endswith(f"#comment-{new_id}")
    await expect(page.locator(".rt-form-notice")).to_have_text("Thank you. Your comment is posted.")

    await page.locator("#comment-1").get_by_role("link", name="Reply").click()
    await expect(page.locator(".rt-form-title")).to_have_text("Reply to Ann")
    await page.locator("form.rt-form").get_by_label("Comment").fill("A reply, still no script.")
    await page.locator("form.rt-form").get_by_label("Name").fill("Ola")
    await page.get_by_role("button", name="Post comment").click()
    nested = page.locator("#comment-1 > .rt-replies > .rt-comment .rt-body")
    await expect(nested).to_have_text("A reply, still no script.")
    # Chromium logs the 422 of the empty comment itself.
    problems.errors[:] = [e for e in problems.errors if "status of 422" not in e]


# ---- Chromium with JavaScript: the client adopts the page ----------------------------------------


@pytest.mark.browser
async def test_client_adopts_the_rendered_thread_without_refetching_it(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """No request for the page's data, the server's nodes kept (Reply becomes a button), live."""
    first = (await site.post("First.\n\nhttps://example.com/a, and more.", author="Ann"))["comment"]
    await site.post("Nested.", author="Per", parent=first["id"])
    served = (await site.http.get(f"/articles/{SLUG}")).text
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    ctx = await browser.new_context(timezone_id="UTC")
    page = problems.watch(await ctx.new_page())
    page.set_default_timeout(WAIT)
    page.on("request", record)
    await page.goto(site.article_url())
    await wait_live(page)
    assert not [url for url in requests if "/api/" in url], requests
    # The nodes on screen are the ones the server sent (Reply turned into a button).
    kept = await page.evaluate(
        """(served) => {
            const parsed = new DOMParser().parseFromString(served, 'text/html');
            const list = parsed.querySelector('.rt-list');
            for (const link of list.querySelectorAll('a.rt-reply')) {
                const button = parsed.createElement('button');
                button.type = 'button';
                button.className = 'rt-action rt-reply';
                button.textContent = link.textContent;
                link.replaceWith(button);
            }
            // The vote buttons work once the client has the voter's token.
            list.querySelectorAll('.rt-vote').forEach((b) => b.removeAttribute('disabled'));
            return list.isEqualNode(document.querySelector('.rt-list'));
        }""",
        served,
    )
    assert kept
    # The same comments built by the client from the data are the same nodes.
    same = await page.evaluate(
        """async (comments) => {
            const { commentNode } = await import('/static/render.js');
            return comments.map((c) => {
                const built = commentNode(c, { onReply: () => {} });
                const shown = document.getElementById(`comment-${c.id}`).cloneNode(true);
                shown.querySelector(':scope > .rt-replies').replaceChildren();
                return built.isEqualNode(shown) || [built.outerHTML, shown.outerHTML];
            });
        }""",
        state_of(served)["page"]["comments"],
    )
    assert same == [True, True]
    await site.post("Live after adoption.")
    await expect(page.locator(".rt-comment")).to_have_count(3)
    await page.locator(f"#comment-{first['id']}").get_by_role("button", name="Reply").first.click()
    await expect(page.locator(f"#comment-{first['id']} form.rt-form")).to_have_count(1)
    await ctx.close()


@pytest.mark.browser
async def test_reply_link_opens_the_form_under_the_comment_with_javascript(
    browser: Browser, site: Site, problems: Problems
) -> None:
    """?reply=ID (the no-JavaScript link) opens, with JavaScript, the form under that comment."""
    parent = (await site.post("Parent."))["comment"]["id"]
    page = await open_thread(browser, f"{site.article_url()}?reply={parent}", problems)
    await expect(page.locator(f"#comment-{parent} form.rt-form")).to_have_count(1)
    await expect(page.locator(".rt-form-title")).to_have_text("Reply to Kari")
    await expect(page.locator(".rt-cancel-link")).to_have_count(0)
    await page.get_by_role("button", name="Cancel reply").click()
    await expect(page.locator(".rt-form-home > form.rt-form")).to_have_count(1)
