"""A comment's body as safe HTML, made once on the server when the comment is stored or edited.

Two formats (the `format` setting, recorded per comment):

- `markdown`: a small subset, parsed by markdown-it-py (CommonMark, well kept) with raw HTML
  off, so markup a commenter types stays text: paragraphs and line breaks, *emphasis*,
  **strong**, `code`, code blocks, > quotes, lists, `[text](url)` links and bare URLs
  (linkify-it-py). No images, no headings, no tables.
- `text`: what the thread always showed: blank lines make paragraphs, single newlines line
  breaks, and http(s) URLs links; every other character is text.

Either way the HTML then goes through nh3 (the Ammonia sanitizer) with an allow-list: those tags
only, `href` only on links and only http, https and mailto, every link
`rel="nofollow ugc noopener"` and opening in a new tab. The parser is one line of defence and
the sanitizer the other: even a parser bug cannot put a script, a handler or a `javascript:` URL
into the page. The body itself is stored unchanged; the HTML is derived from it.
"""

from __future__ import annotations

import re
from typing import Literal

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

Format = Literal["markdown", "text"]
FORMATS: tuple[Format, ...] = ("markdown", "text")

TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
LINK_REL = "nofollow ugc noopener"
_cleaner = nh3.Cleaner(
    tags=TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href"}, "ol": {"start"}},
    url_schemes={"http", "https", "mailto"},
    link_rel=LINK_REL,
    set_tag_attribute_values={"a": {"target": "_blank"}},
    strip_comments=True,
)

# "zero" enables nothing; each rule below is one thing the hint promises.
_RULES = [
    "emphasis",
    "backticks",
    "fence",
    "code",
    "blockquote",
    "list",
    "link",
    "autolink",
    "newline",
    "escape",
    "entity",
]
_markdown = MarkdownIt("zero", {"html": False, "linkify": True, "breaks": True})
_markdown.enable([*_RULES, "linkify"])
assert _markdown.linkify is not None  # linkify-it-py is installed (a dependency)
_markdown.linkify.set({"fuzzy_email": False})  # an address in the text stays text
# Finding bare links costs most of the time of a render: a body with nothing that could be one
# (no "://", no "www.", no "name.tld") is rendered without looking for them.
_unlinked = MarkdownIt("zero", {"html": False, "linkify": False, "breaks": True}).enable(_RULES)
_MAYBE_LINK = re.compile(r"://|www\.|\w\.[^\W\d_]{2}", re.IGNORECASE)  # a TLD is letters


def render(body: str, fmt: Format) -> str:
    """The sanitized HTML of `body` in `fmt`."""
    if fmt == "text":
        made = text_html(body)
    else:
        made = (_markdown if _MAYBE_LINK.search(body) else _unlinked).render(body)
    return str(_cleaner.clean(made)).strip()


def render_stored(body: str, fmt: str) -> str:
    """`render` for a format read from the database or a file (anything else is text)."""
    return render(body, "markdown" if fmt == "markdown" else "text")


# ---- text: paragraphs, line breaks and links, as the thread showed bodies before Markdown -----

# JavaScript's \s (the old browser client split on it): ASCII whitespace, NBSP, the Unicode
# space separators, line separators, BOM.
_JS_SPACE = "".join(
    [
        "\t\n\v\f\r \u00a0\u1680",
        *map(chr, range(0x2000, 0x200B)),
        "\u2028\u2029\u202f\u205f\u3000\ufeff",
    ]
)
_SPACES = re.escape(_JS_SPACE)
_BLANK_LINE = re.compile(f"\n[{_SPACES}]*\n")
_URL = re.compile(f'\\bhttps?://[^{_SPACES}<>"]+', re.IGNORECASE | re.ASCII)
_TRAILING = re.compile(r"[.,;:!?'\")\]}»”’]+$")
_EDGE_NEWLINES = re.compile(r"^\n+|\n+$")


def text_html(body: str) -> str:
    """Blank lines separate paragraphs, single newlines become <br>, URLs become links."""
    blocks = (
        _EDGE_NEWLINES.sub("", block) for block in _BLANK_LINE.split(re.sub(r"\r\n?", "\n", body))
    )
    return str(
        Markup("").join(
            Markup("<p>%s</p>") % _lines(block) for block in blocks if block.strip(_JS_SPACE)
        )
    )


def _lines(block: str) -> Markup:
    return Markup("<br>").join(_linkify(line) for line in block.split("\n"))


def _linkify(line: str) -> Markup:
    parts: list[Markup] = []
    last = 0
    for match in _URL.finditer(line):
        url = _TRAILING.sub("", match.group(0))
        parts.append(escape(line[last : match.start()]))
        parts.append(Markup('<a href="%s">%s</a>') % (url, url))
        last = match.start() + len(url)
    parts.append(escape(line[last:]))
    return Markup("").join(parts)
