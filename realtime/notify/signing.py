"""Signatures: the links in mails, and the bodies of webhook requests.

A link token is `<subject>.<expires>.<mac>`: the subject (a subscriber or held-comment id), when
it stops working (unix seconds, 0 = never), and an HMAC-SHA256 over the purpose, subject and
expiry with the database's own `notify_key`. The purpose is part of the MAC, so an unsubscribe
token does not approve a comment. A forged, altered or expired token is refused with 403.

A webhook request carries `X-Realtime-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<raw body>")>` (the scheme Stripe and others use): the receiver recomputes it over the raw
bytes and rejects old timestamps, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from realtime.errors import Forbidden

MAC_BYTES = 20


def sign_link(key: bytes, purpose: str, subject: int, expires: int) -> str:
    return f"{subject}.{expires}.{_mac(key, purpose, subject, expires)}"


def verify_link(key: bytes, purpose: str, token: str, now: float) -> int:
    """The token's subject, or Forbidden when it is not one we made for `purpose` or expired."""
    subject, expires, mac = _parts(token)
    if not hmac.compare_digest(mac, _mac(key, purpose, subject, expires)):
        raise Forbidden("this link is not valid")
    if expires and now > expires:
        raise Forbidden("this link has expired")
    return subject


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _mac(key: bytes, purpose: str, subject: int, expires: int) -> str:
    message = f"{purpose}:{subject}:{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _parts(token: str) -> tuple[int, int, str]:
    subject, _, rest = token.partition(".")
    expires, _, mac = rest.partition(".")
    numbers = subject + expires
    if not (numbers.isascii() and subject.isdigit() and expires.isdigit() and mac):
        raise Forbidden("this link is not valid")
    if len(token) > 200:
        raise Forbidden("this link is not valid")
    return int(subject), int(expires), mac
