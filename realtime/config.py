"""Settings: `config/default.toml`, then `--config FILE`, then `REALTIME_*` environment variables.

Every layer is checked against the one `Settings` Struct, so an unknown key or a bad value stops
the server at start with a message naming it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from realtime.models import AUTHOR_MAX, BODY_MAX, EMAIL_MAX, EMAIL_PATTERN

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "REALTIME_"


class ConfigError(Exception):
    """A setting is unknown or has a bad value; the message names it."""


Positive = Annotated[int, Meta(ge=1)]
Address = Annotated[str, Meta(max_length=EMAIL_MAX, pattern=EMAIL_PATTERN)]
HttpUrl = Annotated[str, Meta(pattern=r"^https?://[^\s/]+[^\s]*$")]
WebhookEventName = Literal[
    "comment.published", "comment.held", "comment.edited", "comment.deleted", "article.closed"
]


class Webhook(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One `[[webhooks]]` table: where to POST, the HMAC secret, and the events it wants."""

    url: HttpUrl
    secret: Annotated[str, Meta(min_length=16)]
    events: Annotated[list[WebhookEventName], Meta(min_length=1)]


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 8000
    db: str = "data/realtime.db"
    admin_token: str = ""
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    hub: Annotated[str, Meta(pattern=r"^(memory://|rediss?://|postgres$|postgres(ql)?://)")] = (
        "memory://"
    )
    moderation: Literal["off", "first", "all"] = "off"
    rate_limit: Literal["on", "off"] = "on"
    edit_window_seconds: Annotated[int, Meta(ge=0)] = 900
    max_request_bytes: Positive = 65536
    author_max_chars: Annotated[int, Meta(ge=1, le=AUTHOR_MAX)] = AUTHOR_MAX
    body_max_chars: Annotated[int, Meta(ge=1, le=BODY_MAX)] = BODY_MAX
    email_max_chars: Annotated[int, Meta(ge=3, le=EMAIL_MAX)] = EMAIL_MAX
    ws_max_frame_bytes: Annotated[int, Meta(ge=64)] = 4096
    reader_backlog_bytes: Annotated[int, Meta(ge=1024)] = 1 << 20
    watchers_interval_seconds: Annotated[float, Meta(gt=0)] = 1.0
    sse_keepalive_seconds: Annotated[float, Meta(gt=0)] = 15.0
    page_limit_default: Annotated[int, Meta(ge=1, le=500)] = 100
    group_commit_max: Positive = 256
    comments_per_minute: Annotated[float, Meta(gt=0)] = 5.0
    comment_burst: Positive = 3
    max_links: Annotated[int, Meta(ge=0)] = 2
    max_readers: Positive = 20_000
    max_readers_per_client: Positive = 50
    frame_ancestors: list[str] = msgspec.field(default_factory=list)
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    busy_timeout_ms: Annotated[int, Meta(ge=0)] = 5000
    db_pool_size: Annotated[int, Meta(ge=2, le=1000)] = 10
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # Word lists (reloaded by SIGHUP and from the admin page): whole words, any case or accent.
    hold_words: list[str] = msgspec.field(default_factory=list)
    refuse_words: list[str] = msgspec.field(default_factory=list)
    client_address_days: Annotated[int, Meta(ge=0, le=3650)] = 30
    backup_dir: str = ""
    backup_interval_minutes: Annotated[float, Meta(ge=0)] = 0.0
    backup_keep: Positive = 7
    # ---- notifications (realtime/notify/) ----
    smtp_host: str = ""
    smtp_port: Annotated[int, Meta(ge=1, le=65535)] = 25
    smtp_tls: Literal["off", "starttls", "tls"] = "off"
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = ""
    moderator_emails: list[Address] = msgspec.field(default_factory=list)
    public_url: Annotated[str, Meta(pattern=r"^(https?://[^\s/]+[^\s]*)?$")] = ""
    webhooks: list[Webhook] = msgspec.field(default_factory=list)
    notify_concurrency: Annotated[int, Meta(ge=1, le=256)] = 4
    notify_timeout_seconds: Annotated[float, Meta(gt=0, le=600)] = 10.0
    notify_max_attempts: Annotated[int, Meta(ge=1, le=100)] = 8
    notify_backoff_seconds: Annotated[float, Meta(gt=0)] = 5.0
    notify_backoff_max_seconds: Annotated[float, Meta(gt=0)] = 3600.0
    notify_poll_seconds: Annotated[float, Meta(gt=0, le=60)] = 1.0
    reply_digest_seconds: Annotated[float, Meta(ge=0)] = 300.0
    mails_per_address_per_day: Annotated[int, Meta(ge=1)] = 20
    moderation_link_hours: Annotated[float, Meta(gt=0)] = 72.0
    language: Literal["en", "nb"] = "en"
    votes: Literal["updown", "up", "off"] = "updown"
    votes_per_minute: Annotated[float, Meta(gt=0)] = 60.0
    vote_burst: Positive = 30
    vote_events_per_second: Annotated[float, Meta(gt=0, le=100)] = 4.0
    format: Literal["markdown", "text"] = "markdown"
    feed_size: Annotated[int, Meta(ge=1, le=500)] = 50
    gc_freeze: Literal["on", "off"] = "on"
    loop_stall_log_ms: Annotated[int, Meta(ge=0)] = 100
    counts_cache_seconds: Annotated[float, Meta(ge=0)] = 5.0

    def __post_init__(self) -> None:
        for key in ("hold_words", "refuse_words"):
            for entry in getattr(self, key):
                if not any(char.isalnum() for char in entry):
                    raise ValueError(f"{key}: {entry!r} has no letter or digit to match")


_FIELDS = set(Settings.__struct_fields__)
_LIST_FIELDS = {
    "allowed_origins",
    "frame_ancestors",
    "trusted_proxies",
    "moderator_emails",
    "hold_words",
    "refuse_words",
}
# Lists of tables have no sensible environment form: they are set in a TOML file only.
_FILE_ONLY = {"webhooks"}


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Merge the layers in order; `overrides` (command-line flags) win over everything."""
    merged: dict[str, Any] = {}
    merged.update(_read_toml(DEFAULT_FILE))
    if config_file is not None:
        merged.update(_read_toml(Path(config_file)))
    merged.update(_from_environ(os.environ if environ is None else environ))
    merged.update({key: value for key, value in overrides.items() if value is not None})
    try:
        settings = msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"bad setting: {exc}") from None
    if settings.hub == "postgres" and not settings.db.startswith(("postgresql://", "postgres://")):
        raise ConfigError("bad setting: hub = 'postgres' needs a PostgreSQL db (postgresql://…)")
    _check_mail(settings)
    urls = [hook.url for hook in settings.webhooks]
    if len(set(urls)) < len(urls):
        raise ConfigError("bad setting: webhooks: each url may appear once (list its events)")
    return settings


def _check_mail(settings: Settings) -> None:
    """What the types alone cannot say: an e-mail setup that could not send a usable mail."""
    _, address = parseaddr(settings.mail_from)
    broken = any(char in settings.mail_from for char in "\r\n")
    if settings.mail_from and (broken or not re.fullmatch(EMAIL_PATTERN, address)):
        raise ConfigError(f"bad setting: mail_from {settings.mail_from!r} is not an address")
    if not settings.smtp_host:
        return
    if not settings.mail_from:
        raise ConfigError("bad setting: mail_from must be set when smtp_host is set")
    if not settings.public_url:
        raise ConfigError("bad setting: public_url must be set when smtp_host is set (for links)")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r} in {path}")
    return data


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in _FIELDS:
            raise ConfigError(f"unknown environment variable {name}")
        if key in _FILE_ONLY:
            raise ConfigError(f"{name}: set {key} in a config file ([[{key}]] tables)")
        if key in _LIST_FIELDS:
            values[key] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            values[key] = raw
    return values
