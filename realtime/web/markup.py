"""A comment's avatar as SVG, exactly as `static/avatar.js` builds it as DOM, so that the client
can adopt a server-rendered thread without changing a pixel. (A comment's body is its `html`
field, made by `realtime.formatting` when it was stored.)
"""

from __future__ import annotations

import math
import re

from markupsafe import Markup

_DIGEST = re.compile(r"^[0-9a-f]{12,}$", re.IGNORECASE)


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
