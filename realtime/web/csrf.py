"""Cross-site request forgery protection for the HTML form (the JSON API needs none: a browser
cannot send `application/json` across sites without a CORS preflight the server refuses).

Two independent checks, both required:
- a token in the form that is the HMAC of a random nonce kept in a `SameSite=Lax`, HttpOnly
  cookie. Another site can make a browser post the form, but cannot read the cookie or the page,
  so it cannot know the token; the Lax cookie is not even sent on its cross-site POST.
- the `Origin` header (or, when a browser leaves it out, the `Referer`) must be this server's.

The key is derived from the per-database secret (the one the avatars use), so every process on
the same database accepts the others' tokens and a restart does not break a form left open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

COOKIE = "rt_csrf"
FIELD = "csrf"
_CONTEXT = b"realtime csrf token v1"


def derive_key(database_secret: bytes) -> bytes:
    return hmac.new(database_secret, _CONTEXT, hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token_for(key: bytes, nonce: str) -> str:
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def token_matches(key: bytes, nonce: str | None, token: str | None) -> bool:
    if not nonce or not token:
        return False
    return hmac.compare_digest(token_for(key, nonce), token)


def same_origin(own: str, origin: str | None, referer: str | None) -> bool:
    """True when the request says it comes from `own` (scheme://host[:port]).

    `Origin` decides when present ("null", from sandboxed or privacy-stripped contexts, is not
    ours). Without it, the `Referer`'s origin decides; with neither, the token alone decides.
    """
    if origin is not None:
        return origin == own
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own
    return True


def cookie_header(nonce: str, secure: bool) -> str:
    """The Set-Cookie value: HttpOnly (scripts never need it), Lax (no cross-site POSTs)."""
    flags = "; Secure" if secure else ""
    return f"{COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Lax{flags}"
