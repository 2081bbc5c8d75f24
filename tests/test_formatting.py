"""Formatting: a small Markdown subset (or plain text) made into HTML once, on the server, by
markdown-it-py and nh3; the body is kept byte for byte; the classic XSS payloads come out inert."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from realtime.formatting import TAGS, render
from tests.conftest import ADMIN, post_comment
from tests.servers import ThreadServer

# The classic payloads: scripts, event handlers, javascript: and data: URLs, entity and case
# tricks, nested and unclosed markup, SVG and iframes, and Markdown's own ways to a link.
XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="javascript:alert(1)">',
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<body onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<a href=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)>x</a>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<<script>alert(1);//<</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)//",
    "<b onmouseover=alert(1)>unclosed",
    '"><script>alert(1)</script>',
    "</textarea><script>alert(1)</script>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    '[x](https://ok.example/" onmouseover="alert(1))',
    "<javascript:alert(1)>",
    "**<img src=x onerror=alert(1)>**",
    "`<script>alert(1)</script>`",
    "```\n</code><script>alert(1)</script>\n```",
    "> <iframe srcdoc='<script>alert(1)</script>'>",
    "- <object data=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>go</button></form>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<!--<script>alert(1)</script>-->",
]
ALLOWED_ATTRIBUTES = {"a": {"href", "rel", "target"}, "ol": {"start"}}
SAFE_SCHEMES = ("http://", "https://", "mailto:")


class Inspector(HTMLParser):
    """Every tag and attribute in a piece of HTML, to hold against the allow-list."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str) -> None:
    inspector = Inspector()
    inspector.feed(html)
    for tag, attrs in inspector.tags:
        assert tag in TAGS, (tag, html)
        assert set(attrs) <= ALLOWED_ATTRIBUTES.get(tag, set()), (tag, attrs, html)
        href = attrs.get("href")
        if href is not None:
            assert href.startswith(SAFE_SCHEMES), (href, html)
            assert attrs.get("rel") == "nofollow ugc noopener"


@pytest.mark.parametrize("fmt", ["markdown", "text"])
@pytest.mark.parametrize("payload", XSS)
def test_xss_payloads_come_out_inert(payload: str, fmt: str) -> None:
    """Only allowed tags and attributes, only http(s)/mailto links, in either format."""
    assert_inert(render(payload, fmt))  # type: ignore[arg-type]


def test_markdown_subset() -> None:
    """Emphasis, strong, code, code blocks, quotes, lists, links and bare URLs; no images or
    headings; typed markup is text."""
    html = render(
        "*em* **strong** `code`\nnext line\n\n> quoted\n\n- one\n- two\n\n1. first\n\n"
        "```\nblock <b>\n```\n\n[text](https://example.org/a) and https://example.org/b\n\n"
        "# not a heading\n\n![alt](https://example.org/i.png) <b>typed</b>"
        " [m](mailto:k@example.org)",
        "markdown",
    )
    for part in (
        "<em>em</em>",
        "<strong>strong</strong>",
        "<code>code</code>",
        "<br>",
        "<blockquote>",
        "<ul>",
        "<ol>",
        "<pre><code>block &lt;b&gt;\n</code></pre>",
        '<a href="https://example.org/a" target="_blank" rel="nofollow ugc noopener">text</a>',
        '<a href="https://example.org/b" target="_blank" rel="nofollow ugc noopener">',
        "<p># not a heading</p>",
        "&lt;b&gt;typed&lt;/b&gt;",
        '<a href="mailto:k@example.org"',
    ):
        assert part in html, part
    assert "<img" not in html and "<h1" not in html


def test_text_format_is_paragraphs_breaks_and_links() -> None:
    """`text`: blank lines make paragraphs, newlines breaks, URLs links; Markdown stays text."""
    html = render("**not bold**\nline\n\n  \npara https://example.org/x.", "text")
    assert html == (
        "<p>**not bold**<br>line</p><p>para "
        '<a href="https://example.org/x" target="_blank" rel="nofollow ugc noopener">'
        "https://example.org/x</a>.</p>"
    )


async def test_api_keeps_the_body_and_gives_sanitized_html(
    client: httpx.AsyncClient, article: str
) -> None:
    """Every payload: the body round-trips byte for byte; `html` is inert in the POST's answer,
    the page of comments, the comment itself and after an edit."""
    for payload in XSS:
        created = (await post_comment(client, article, body=payload)).json()
        comment = created["comment"]
        assert comment["body"] == payload.strip()
        assert_inert(comment["html"])
        fetched = (await client.get(f"/api/comments/{comment['id']}")).json()
        assert fetched["html"] == comment["html"] and fetched["body"] == comment["body"]
    page = (await client.get(f"/api/articles/{article}/comments?limit=500")).json()
    assert len(page["comments"]) == len(XSS)
    for comment in page["comments"]:
        assert_inert(comment["html"])
    first = page["comments"][0]["id"]
    edited = await client.patch(
        f"/api/comments/{first}",
        json={"body": "**bold** <script>alert(1)</script>"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert edited.status_code == 200
    assert edited.json()["html"] == (
        "<p><strong>bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )


async def test_preview_renders_with_the_same_rules(client: httpx.AsyncClient) -> None:
    """POST /api/preview answers the HTML a comment would get, and refuses what a comment would."""
    answer = await client.post("/api/preview", json={"body": "*hi* <img src=x onerror=alert(1)>"})
    assert answer.status_code == 200
    assert answer.json() == {"html": "<p><em>hi</em> &lt;img src=x onerror=alert(1)&gt;</p>"}
    assert (await client.post("/api/preview", json={"body": ""})).json() == {"html": ""}
    too_long = await client.post("/api/preview", json={"body": "x" * 10_001})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["field"] == "body"
    extra = await client.post("/api/preview", json={"body": "x", "html": "<b>"})
    assert extra.status_code in (400, 422)


async def test_text_format_setting(start_server: Any) -> None:
    """With format = "text", Markdown stays as typed; the comment records it for later edits."""
    server: ThreadServer = start_server(format="text")
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.put(
            "/api/articles/a", json={"title": "A"}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        comment = (await post_comment(http, "a", body="*x*\nhttps://example.org")).json()
        assert comment["comment"]["html"] == (
            '<p>*x*<br><a href="https://example.org" target="_blank" '
            'rel="nofollow ugc noopener">https://example.org</a></p>'
        )
        preview = await http.post("/api/preview", json={"body": "*x*"})
        assert preview.json() == {"html": "<p>*x*</p>"}


def test_rendered_html_has_no_stray_whitespace_between_blocks() -> None:
    """What the client inserts is exactly what the page renders: trimmed, nothing else."""
    html = render("a\n\nb", "markdown")
    assert re.fullmatch(r"<p>a</p>\s*<p>b</p>", html)


def test_bodies_without_a_possible_link_skip_the_link_finder_for_the_same_html() -> None:
    """The fast path (no "://", "www." or "name.tld") gives exactly what the full one gives."""
    from realtime import formatting

    samples = [*XSS, "Plain words. Two sentences!", "a.b c", "1.5 times", "x@y", "**b** _i_"]
    samples += ["[loadtest abc 1796061700.772110]", "192.168.0.1 and 10.0.0.1:80", "v2.0.1"]
    for body in samples:
        full = formatting._cleaner.clean(formatting._markdown.render(body))
        fast = formatting._cleaner.clean(formatting._unlinked.render(body))
        if not formatting._MAYBE_LINK.search(body):
            assert fast == full, body
