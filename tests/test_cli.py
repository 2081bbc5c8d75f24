"""The `realtime` command as a user runs it, in a subprocess."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.servers import ROOT


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_article_put_creates_then_updates(tmp_path: Path) -> None:
    """`realtime article put` creates an article, then retitles it."""
    db = str(tmp_path / "cli.sqlite")
    first = run("--db", db, "article", "put", "budget-2027", "--title", "Budget “2027”")
    assert first.returncode == 0 and "created budget-2027" in first.stdout
    second = run("article", "put", "budget-2027", "--title", "Budget 2027, revised", "--db", db)
    assert second.returncode == 0 and "updated" in second.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT title FROM articles").fetchall() == [("Budget 2027, revised",)]


def test_article_put_refuses_bad_slug(tmp_path: Path) -> None:
    """A bad slug is a one-line error and exit 1, not a traceback."""
    result = run("--db", str(tmp_path / "x.sqlite"), "article", "put", "Bad Slug", "--title", "t")
    assert result.returncode == 1
    assert "slug" in result.stderr and "Traceback" not in result.stderr


def test_demo_is_seeded_once(tmp_path: Path) -> None:
    """`realtime demo` adds the demo article with its comments and a reply, only once."""
    db = str(tmp_path / "demo.sqlite")
    assert run("--db", db, "demo").returncode == 0
    assert run("--db", db, "demo").returncode == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (1,)
        count, stored, replies = conn.execute(
            "SELECT a.count, (SELECT count(*) FROM comments),"
            " (SELECT count(*) FROM comments WHERE parent IS NOT NULL) FROM articles a"
        ).fetchone()
    assert count == stored >= 4 and replies >= 1


def test_bad_setting_stops_with_its_name(tmp_path: Path) -> None:
    """An unknown environment setting stops `serve` before it starts, naming it."""
    env = {"PATH": "/usr/bin:/bin", "REALTIME_MODERATON": "all"}
    result = run("--db", str(tmp_path / "x.sqlite"), "serve", "--port", "1", env=env)
    assert result.returncode == 2 and "REALTIME_MODERATON" in result.stderr
