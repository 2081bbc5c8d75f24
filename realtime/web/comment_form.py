"""The comment form posted without JavaScript: read it, check it as static/form.js does, and put
the service's refusals into words from the catalog, next to the field they are about.

The checks before sending are the client's (`validate` in form.js), so a reader gets the same
message with or without JavaScript; everything else (limits, moderation, honeypot, bounds) is
the service's, through the same `CommentService.post` the JSON API calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from realtime.config import Settings
from realtime.errors import AppError, BadRequest, Conflict, Invalid, RateLimited, RefusedWord
from realtime.models import EMAIL_PATTERN
from realtime.web.i18n import Translator

FIELDS = ("body", "author", "email", "notify")
_EMAIL = re.compile(EMAIL_PATTERN)
MAX_FIELDS = 16  # a real form sends 6; more is not a person


@dataclass
class FormState:
    """What the form shows: the reader's text, errors by field, and the page's messages."""

    csrf: str
    values: dict[str, str] = field(default_factory=lambda: dict.fromkeys(FIELDS, ""))
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # about the whole form (rate limit, a repeat)
    notice: str | None = None  # not an error: posted, or held for a moderator
    parent: int | None = None
    parent_author: str | None = None
    notify: bool = False  # the server can send mail: the "notify me of replies" box is offered

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.problem is not None


def parse_fields(body: bytes) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body; the first value of each name counts."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form could not be read") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def parse_parent(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise Invalid("parent must be a comment id", "parent")
    return int(raw)


def validate(values: dict[str, str], settings: Settings, t: Translator) -> dict[str, str]:
    """Field name -> message, for what the server would refuse anyway (form.js `validate`)."""
    errors: dict[str, str] = {}
    author, body, email = (values[name].strip() for name in ("author", "body", "email"))
    if not author:
        errors["author"] = t.t("form.author_missing")
    elif len(author) > settings.author_max_chars:
        errors["author"] = t.t("form.author_too_long", max=settings.author_max_chars)
    if email and (len(email) > settings.email_max_chars or not _EMAIL.match(email)):
        errors["email"] = t.t("form.email_invalid")
    elif values.get("notify") and settings.smtp_host and not email:
        errors["email"] = t.t("form.notify_needs_email")
    if not body:
        errors["body"] = t.t("form.body_missing")
    elif len(body) > settings.body_max_chars:
        over = len(body) - settings.body_max_chars
        errors["body"] = t.t("form.body_too_long", over=over, max=settings.body_max_chars)
    return errors


def explain(error: AppError, form: FormState, t: Translator) -> None:
    """Put a refusal from the service into the form, by its field when it names one."""
    if error.field == "parent":
        form.problem = t.t("form.parent_gone")
    elif isinstance(error, RateLimited):
        form.problem = t.t("form.rate_limited", seconds=error.retry_after)
    elif isinstance(error, Conflict) and error.field == "body":
        form.errors["body"] = t.t("form.repeated")
    elif isinstance(error, RefusedWord) and error.field in FIELDS:
        key = "form.refused_word_author" if error.field == "author" else "form.refused_word"
        form.errors[error.field] = t.t(key, word=error.word)
    elif error.field in FIELDS:
        form.errors[error.field] = t.t("form.field_refused")
    else:
        form.problem = error_text(error, t)


def error_text(error: AppError, t: Translator) -> str:
    """A refusal in the reader's language, by its code (the API's messages are English)."""
    key = f"error.{error.code}"
    return t.t(key) if key in t.messages else t.t("error.other", status=error.status)
