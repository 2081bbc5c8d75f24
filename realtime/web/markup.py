"""A comment's body and avatar as HTML, exactly as the browser client builds them as DOM.

Mirrors `static/text.js` (paragraphs, line breaks, http(s) links) and `static/avatar.js` (the
identicon), so that the client can adopt a server-rendered thread without changing a pixel.
Every piece of user text goes through `escape`; the only markup is what these functions write.
The character classes copy JavaScript's (`\\s`, `\\b`), which differ from Python's defaults.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

# JavaScript's \s: ASCII whitespace, NBSP, the Unicode space separators, line separators, BOM.
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
_DIGEST = re.compile(r"^[0-9a-f]{12,}$", re.IGNORECASE)


def body_html(body: str) -> Markup:
    """Blank lines separate paragraphs, single newlines become <br>, URLs become links."""
    blocks = (
        _EDGE_NEWLINES.sub("", block) for block in _BLANK_LINE.split(re.sub(r"\r\n?", "\n", body))
    )
    return Markup("").join(
        Markup("<p>%s</p>") % _lines(block) for block in blocks if block.strip(_JS_SPACE)
    )


def _lines(block: str) -> Markup:
    return Markup("<br>").join(_linkify(line) for line in block.split("\n"))


def _linkify(line: str) -> Markup:
    parts: list[Markup] = []
    last = 0
    for match in _URL.finditer(line):
        url = _TRAILING.sub("", match.group(0))
        if not _is_web_url(url):
            continue
        parts.append(escape(line[last : match.start()]))
        parts.append(
            Markup('<a href="%s" rel="nofollow ugc noopener" target="_blank">%s</a>') % (url, url)
        )
        last = match.start() + len(url)
    parts.append(escape(line[last:]))
    return Markup("").join(parts)


def _is_web_url(text: str) -> bool:
    """What `new URL(text)` accepts with an http(s) scheme, near enough: a host is required."""
    try:
        parts = urlsplit(text)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def identicon(digest: str, size: int = 40) -> Markup:
    """A symmetric 5x5 pattern in one colour from the comment's `avatar` digest."""
    hex_digest = digest if _DIGEST.match(digest) else "0" * 32
    hue = math.floor(int(hex_digest[:4], 16) / 0xFFFF * 360 + 0.5)
    bits = int(hex_digest[4:8], 16)
    cells: list[Markup] = []
    for i in range(15):
        if not (bits >> i) & 1:
            continue
        col, row = divmod(i, 5)
        for x in dict.fromkeys((col, 4 - col)):
            cells.append(
                Markup('<rect x="%s" y="%s" width="1.02" height="1.02"></rect>')
                % (_js_number(1.5 + x), _js_number(1.5 + row))
            )
    return Markup(
        '<svg class="rt-avatar" viewBox="0 0 8 8" width="%d" height="%d" aria-hidden="true" '
        'focusable="false"><rect width="8" height="8" rx="4" fill="hsl(%d 60%% 93%%)"></rect>'
        '<g fill="hsl(%d 55%% 48%%)">%s</g></svg>'
    ) % (size, size, hue, hue, Markup("").join(cells))


def _js_number(value: float) -> str:
    """A number as JavaScript prints it: 2.5, but 3 rather than 3.0."""
    return str(int(value)) if value == int(value) else repr(value)
