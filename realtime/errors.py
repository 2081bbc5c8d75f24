"""Domain errors, each carrying the status and code it has on the wire.

    AppError                  any failure the API reports in its error shape
    ├── BadRequest       400  malformed JSON or invalid UTF-8
    ├── Unauthorized     401  no or unknown bearer token
    ├── Forbidden        403  admin endpoints disabled, or a token for another comment
    │   └── Banned       403  the poster is banned (code "banned")
    ├── NotFound         404  unknown article or comment
    ├── Conflict         409  parent in another article, edit window closed
    ├── PayloadTooLarge  413  request body over the configured bound
    ├── UnsupportedMedia 415  request body is not JSON
    ├── Invalid          422  a field out of bounds (the field is named)
    │   └── RefusedWord  422  a word on the `refuse_words` list (code "refused_word")
    ├── RateLimited      429  too many requests from one client (with Retry-After)
    └── Unavailable      503  the database cannot take the write right now (with Retry-After)

`render_error` turns one into `{"error": {...}}`; `from_validation` reads the field name out of a
msgspec message ("... - at `$.body`").
"""

from __future__ import annotations

import re
from typing import ClassVar

import msgspec

from realtime.models import ErrorBody, ErrorDetail


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    # Seconds a client should wait before trying again (the Retry-After header), if it should.
    retry_after: int | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> ErrorBody:
        return ErrorBody(
            error=ErrorDetail(
                status=self.status, code=self.code, message=self.message, field=self.field
            )
        )


class BadRequest(AppError):
    status = 400
    code = "malformed"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Banned(Forbidden):
    code = "banned"


class NotFound(AppError):
    status = 404
    code = "not_found"


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"


class Conflict(AppError):
    status = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "too_large"


class UnsupportedMedia(AppError):
    status = 415
    code = "unsupported_media_type"


class Invalid(AppError):
    status = 422
    code = "invalid"


class RefusedWord(Invalid):
    code = "refused_word"

    def __init__(self, message: str, field: str, word: str) -> None:
        super().__init__(message, field)
        self.word = word  # the list's entry that matched, for the reader's own language


class RateLimited(AppError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(AppError):
    status = 503
    code = "unavailable"
    # A full disk or a locked database may take a while; clients should not hammer it meanwhile.
    retry_after = 5


_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `(.*)`$", re.DOTALL)


def from_validation(exc: msgspec.ValidationError) -> Invalid:
    """A msgspec validation message as a 422 naming the field it is about."""
    text = str(exc)
    field: str | None = None
    match = _AT_PATH.search(text)
    if match:
        field = match.group(1) or None
        text = text[: match.start()]
    else:
        unknown = _NAMED_FIELD.search(text)
        field = unknown.group(1) if unknown else None
    return Invalid(_friendly(text), field)


def _friendly(text: str) -> str:
    if "length >= 1" in text:
        return "must not be empty"
    if "matching regex '^[^\\\\x00]*[^" in text:
        return "must not be blank or contain NUL characters"
    if "matching regex '^[^@" in text:
        return "must be an e-mail address"
    return text
