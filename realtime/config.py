"""Settings: `config/default.toml`, then `--config FILE`, then `REALTIME_*` environment variables.

Every layer is checked against the one `Settings` Struct, so an unknown key or a bad value stops
the server at start with a message naming it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from realtime.models import AUTHOR_MAX, BODY_MAX, EMAIL_MAX

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "REALTIME_"


class ConfigError(Exception):
    """A setting is unknown or has a bad value; the message names it."""


Positive = Annotated[int, Meta(ge=1)]


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
    language: Literal["en", "nb"] = "en"

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
    "hold_words",
    "refuse_words",
}


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
    return settings


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
        if key in _LIST_FIELDS:
            values[key] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            values[key] = raw
    return values
