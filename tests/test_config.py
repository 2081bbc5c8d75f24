"""Settings: defaults, then a config file, then REALTIME_* variables; bad input stops start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.config import ConfigError, load_settings


def test_defaults() -> None:
    """The shipped defaults match the documented bounds."""
    settings = load_settings(environ={})
    assert settings.max_request_bytes == 65536
    assert settings.author_max_chars == 80 and settings.body_max_chars == 10_000
    assert settings.edit_window_seconds == 900 and settings.ws_max_frame_bytes == 4096
    assert settings.reader_backlog_bytes == 1 << 20
    assert settings.hub == "memory://" and settings.moderation == "off"
    assert settings.admin_token == ""


def test_layers_in_order(tmp_path: Path) -> None:
    """A config file overrides the defaults; the environment overrides the file."""
    config = tmp_path / "site.toml"
    config.write_text(
        'port = 9000\nmoderation = "first"\nallowed_origins = ["https://a.example"]\n'
    )
    settings = load_settings(config, environ={"REALTIME_PORT": "9100", "REALTIME_DB": "x.db"})
    assert settings.port == 9100 and settings.db == "x.db" and settings.moderation == "first"
    assert settings.allowed_origins == ["https://a.example"]
    env = {"REALTIME_ALLOWED_ORIGINS": "https://b.example, https://c.example"}
    assert load_settings(config, environ=env).allowed_origins == [
        "https://b.example",
        "https://c.example",
    ]


def test_unknown_key_is_named(tmp_path: Path) -> None:
    """An unknown key in a file or the environment fails, naming the key."""
    config = tmp_path / "bad.toml"
    config.write_text("prot = 8000\n")
    with pytest.raises(ConfigError, match="'prot'"):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match="REALTIME_PROT"):
        load_settings(environ={"REALTIME_PROT": "1"})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REALTIME_PORT": "eighty"}, "port"),
        ({"REALTIME_PORT": "70000"}, "port"),
        ({"REALTIME_MODERATION": "sometimes"}, "moderation"),
        ({"REALTIME_HUB": "kafka://x"}, "hub"),
        ({"REALTIME_BODY_MAX_CHARS": "20000"}, "body_max_chars"),
    ],
)
def test_bad_value_is_named(env: dict[str, str], named: str) -> None:
    """A bad value fails at start with the setting's name in the message."""
    with pytest.raises(ConfigError, match=named):
        load_settings(environ=env)


def test_missing_or_broken_file(tmp_path: Path) -> None:
    """A missing or invalid TOML file is a clear error, not a traceback."""
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_postgres_hub_needs_a_postgres_database() -> None:
    """`hub = "postgres"` rides on the PostgreSQL store; with an SQLite file it stops start-up,
    naming the key. A PostgreSQL URL in `db` is taken as it is."""
    url = "postgresql://realtime:secret@db.example:5432/comments"
    settings = load_settings(environ={"REALTIME_DB": url, "REALTIME_HUB": "postgres"})
    assert settings.db == url and settings.hub == "postgres"
    with pytest.raises(ConfigError, match="hub"):
        load_settings(environ={"REALTIME_HUB": "postgres"})
    with pytest.raises(ConfigError, match="hub"):
        load_settings(environ={"REALTIME_HUB": "postgresx"})
    with pytest.raises(ConfigError, match="db_pool_size"):
        load_settings(environ={"REALTIME_DB_POOL_SIZE": "1"})


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('smtp_tls = "ssl"', "smtp_tls"),
        ('mail_from = "not an address"', "mail_from"),
        ('moderator_emails = ["mod@example.org", "nobody"]', "moderator_emails"),
        ('public_url = "ftp://x"', "public_url"),
        ('smtp_host = "127.0.0.1"\nmail_from = "a@b.org"', "public_url"),
        ('smtp_host = "127.0.0.1"\npublic_url = "https://x.org"', "mail_from"),
        ('[[webhooks]]\nurl = "ftp://x.org/h"\nsecret = "0123456789abcdef"\nevents = []', "url"),
        ('[[webhooks]]\nurl = "https://x.org/h"\nsecret = "short"\nevents = ["x"]', "secret"),
        (
            '[[webhooks]]\nurl = "https://x.org/h"\nsecret = "0123456789abcdef"\n'
            'events = ["comment.posted"]',
            "events",
        ),
    ],
)
def test_bad_notification_settings_are_named(tmp_path: Path, toml: str, named: str) -> None:
    """Bad mail or webhook settings stop start-up with a message naming the key."""
    config = tmp_path / "bad.toml"
    config.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=named):
        load_settings(config, environ={})


def test_webhook_tables(tmp_path: Path) -> None:
    """`[[webhooks]]` tables load as a list; the environment cannot set them."""
    config = tmp_path / "hooks.toml"
    config.write_text(
        '[[webhooks]]\nurl = "https://a.example/h"\nsecret = "0123456789abcdef"\n'
        'events = ["comment.published"]\n'
        '[[webhooks]]\nurl = "http://127.0.0.1:9/h"\nsecret = "fedcba9876543210"\n'
        'events = ["comment.held", "article.closed"]\n'
    )
    settings = load_settings(config, environ={})
    assert [hook.url for hook in settings.webhooks] == [
        "https://a.example/h",
        "http://127.0.0.1:9/h",
    ]
    assert settings.webhooks[1].events == ["comment.held", "article.closed"]
    with pytest.raises(ConfigError, match="REALTIME_WEBHOOKS"):
        load_settings(environ={"REALTIME_WEBHOOKS": "https://a.example"})
