"""Backup, export/import and the WordPress import, through the `realtime` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from realtime.cli import main
from realtime.store import MIGRATIONS
from realtime.store.archive import ArticleRecord, CommentRecord, PendingRecord
from tests.conftest import ADMIN, SLUG, post_comment
from tests.servers import ThreadServer

DATA = Path(__file__).parent / "data"
WXR = DATA / "wordpress.xml"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command reads REALTIME_* settings from the environment; these tests pass their own."""
    for name in list(os.environ):
        if name.startswith("REALTIME_"):
            monkeypatch.delenv(name)


def realtime(*args: str | Path) -> int:
    return main(["--config", str(DATA / "quiet.toml"), *map(str, args)])


def rows(db: Path, sql: str) -> list[Any]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def snapshot(db: Path) -> list[list[Any]]:
    """Every row of every table, sqlite_sequence included."""
    tables = [row[0] for row in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [rows(db, f'SELECT * FROM "{table}" ORDER BY rowid') for table in sorted(tables)]


def assert_counts_consistent(db: Path) -> None:
    for slug, count, published in rows(
        db,
        "SELECT slug, count, (SELECT count(*) FROM comments c WHERE c.article = a.slug"
        " AND c.status = 'published') FROM articles a",
    ):
        assert count == published, slug


async def fill(client: httpx.AsyncClient) -> None:
    """An article with replies, an edit, a deletion, e-mail addresses and a held comment, and a
    second article, closed."""
    for slug in (SLUG, "second-story"):
        response = await client.put(f"/api/articles/{slug}", json={"title": slug}, headers=AUTH)
        assert response.status_code == 201
    first = (await post_comment(client, SLUG, email="Kari@Example.org")).json()
    reply = await post_comment(client, SLUG, body="A reply.", parent=first["comment"]["id"])
    doomed = (await post_comment(client, SLUG, body="Gone soon.")).json()
    await post_comment(client, "second-story", author="Ola", body="Other\n\nparagraphs.")
    edited = await client.patch(
        f"/api/comments/{reply.json()['comment']['id']}", json={"body": "Edited."}, headers=AUTH
    )
    assert edited.status_code == 200
    deleted = await client.delete(f"/api/comments/{doomed['comment']['id']}", headers=AUTH)
    assert deleted.status_code == 204
    held = await post_comment(client, SLUG, body="Buy now", website="https://bot.example")
    assert held.json()["status"] == "pending"
    closed = await client.post("/api/admin/articles/second-story/close", headers=AUTH)
    assert closed.json()["closed"] is True


# ---- backup ----------------------------------------------------------------------------------


async def test_backup_while_posting(
    server: ThreadServer, client: httpx.AsyncClient, article: str, tmp_path: Path
) -> None:
    """A backup taken while comments pour in is a consistent, checked copy of a moment."""
    db, copy = Path(server.settings.db), tmp_path / "backup.sqlite"
    stop = asyncio.Event()
    acknowledged: list[int] = []

    async def poster(worker: int) -> None:
        while not stop.is_set():
            response = await post_comment(client, article, body=f"worker {worker}")
            assert response.status_code == 201
            acknowledged.append(response.json()["comment"]["id"])

    posters = [asyncio.create_task(poster(n)) for n in range(4)]
    while len(acknowledged) < 50:
        await asyncio.sleep(0.01)
    codes = [await asyncio.to_thread(realtime, "--db", db, "backup", copy) for _ in range(2)]
    posted_then = len(acknowledged)
    while len(acknowledged) < posted_then + 20:  # and posting goes on after it
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*posters)
    assert codes == [0, 0]

    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    assert rows(copy, "PRAGMA journal_mode") == [("delete",)]
    assert not copy.with_name(copy.name + ".partial").exists()
    assert_counts_consistent(copy)
    saved = rows(copy, "SELECT * FROM comments ORDER BY id")
    final = rows(db, "SELECT * FROM comments ORDER BY id")
    assert 50 <= len(saved) < len(final) == len(acknowledged)
    assert saved == final[: len(saved)]  # a prefix: every comment up to a moment, exactly


def test_backup_refuses_its_own_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backup` onto the database itself, or of a database that is not there, is refused."""
    db = tmp_path / "db.sqlite"
    assert realtime("--db", db, "backup", tmp_path / "x.sqlite") == 1
    assert "no database" in capsys.readouterr().err
    assert realtime("--db", db, "article", "put", "a", "--title", "A") == 0
    assert realtime("--db", db, "backup", db) == 1
    assert "another file" in capsys.readouterr().err


# ---- export and import -----------------------------------------------------------------------


async def test_export_import_round_trip(
    server: ThreadServer,
    client: httpx.AsyncClient,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """export → import into a fresh database → export: the same bytes; ids, parents, times kept."""
    await fill(client)
    db, fresh = Path(server.settings.db), tmp_path / "fresh.sqlite"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert await asyncio.to_thread(realtime, "--db", db, "export", first) == 0
    assert await asyncio.to_thread(realtime, "--db", fresh, "import", first) == 0
    assert await asyncio.to_thread(realtime, "--db", fresh, "export", second) == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_mode & 0o777 == 0o600  # it holds e-mail addresses

    records = [json.loads(line) for line in first.read_text().splitlines()]
    assert records[0] == {"type": "realtime-export", "version": 1}
    comments = [r for r in records if r["type"] == "comment"]
    assert [c["status"] for c in comments] == ["published", "published", "deleted", "published"]
    assert [r["body"] for r in records if r["type"] == "pending"] == ["Buy now"]
    assert [r["closed"] for r in records if r["type"] == "article"] == [False, True]
    assert comments[1]["parent"] == comments[0]["id"] and comments[1]["edited"] is not None
    assert comments[0]["email"] == "kari@example.org"
    assert "kari@example.org" not in capfd.readouterr().err  # summaries never name an address

    columns = "id, article, parent, author, email, avatar, body, created, edited, status"
    assert rows(fresh, f"SELECT {columns} FROM comments") == rows(
        db, f"SELECT {columns} FROM comments"
    )
    assert rows(fresh, "SELECT * FROM articles") == rows(db, "SELECT * FROM articles")
    held = "id, article, parent, author, email, avatar, body, created, reason"
    assert rows(fresh, f"SELECT {held} FROM pending") == rows(db, f"SELECT {held} FROM pending")
    assert_counts_consistent(fresh)
    top = max(c["id"] for c in comments)  # the next comment continues above the imported ids
    assert rows(fresh, "SELECT seq FROM sqlite_sequence WHERE name = 'comments'") == [(top,)]


async def test_export_without_email_to_stdout(
    server: ThreadServer, client: httpx.AsyncClient, capfd: pytest.CaptureFixture[str]
) -> None:
    """`export --no-email -` writes the records to stdout with no address in them."""
    await fill(client)
    assert (
        await asyncio.to_thread(realtime, "--db", server.settings.db, "export", "--no-email") == 0
    )
    out, err = capfd.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 1 + 2 + 4 + 1 and "@" not in out
    assert all(r.get("email") is None for r in records)
    assert "exported 2 articles and 4 comments to standard output" in err


async def test_import_conflicting_ids_changes_nothing(
    server: ThreadServer,
    client: httpx.AsyncClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Importing ids the database already gave out fails with a message and writes nothing."""
    await fill(client)
    db, export = Path(server.settings.db), tmp_path / "export.jsonl"
    assert await asyncio.to_thread(realtime, "--db", db, "export", export) == 0
    before = snapshot(db)
    assert await asyncio.to_thread(realtime, "--db", db, "import", export) == 1
    assert "is not above the database's highest id" in capsys.readouterr().err
    assert snapshot(db) == before


def is_comment(record: dict[str, Any], comment_id: int) -> bool:
    return bool(record["type"] == "comment" and record["id"] == comment_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(status="shown") if is_comment(r, 1) else None, "line 4"),
        (lambda r: r.update(parent=999) if is_comment(r, 2) else None, "parent 999"),
        (lambda r: r.update(article="nowhere") if is_comment(r, 4) else None, "do not fit"),
        (lambda r: r.update(parent=4) if r["type"] == "pending" else None, "parent 4"),
        (lambda r: r.update(type="article") if r["type"] == "realtime-export" else None, "line 1"),
    ],
)
def test_bad_records_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str
) -> None:
    """A bad line, a parent that is not there or in another article, an unknown article:
    refused, nothing written."""
    source, target = tmp_path / "source.sqlite", tmp_path / "target.sqlite"
    assert realtime("--db", source, "import-wxr", WXR) == 0
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    assert realtime("--db", source, "export", good) == 0
    records = [json.loads(line) for line in good.read_text().splitlines()]
    for record in records:
        change(record)
    bad.write_text("".join(json.dumps(record) + "\n" for record in records))
    assert realtime("--db", target, "article", "put", "kept", "--title", "Kept") == 0
    before = snapshot(target)
    capsys.readouterr()
    assert realtime("--db", target, "import", bad) == 1
    assert message in capsys.readouterr().err
    assert snapshot(target) == before


def test_records_cover_every_column(tmp_path: Path) -> None:
    """Each column of the newest schema is in the export, but the author's and voter's hashes
    (private), the poster's network (kept for bans in this database only, hashed under its own
    key) and what an import derives (the HTML, the score, the vote counter)."""
    db = tmp_path / "db.sqlite"
    with sqlite3.connect(db) as conn:
        for migration in MIGRATIONS:
            conn.executescript(migration)
    kinds = (("articles", ArticleRecord), ("comments", CommentRecord), ("pending", PendingRecord))
    for table, record in kinds:
        columns = {row[1] for row in rows(db, f"PRAGMA table_info({table})")}
        left_out = {"token_hash", "voter_hash", "html", "score", "vote_seq"}
        left_out |= {"client_prefix", "client_key"}
        assert columns - left_out == set(record.__struct_fields__), table


# ---- WordPress -------------------------------------------------------------------------------


def test_wxr_import(tmp_path: Path) -> None:
    """Posts with comments become articles; approved comments are published, held ones queued,
    spam, trash and pingbacks left out; replies, dates and text come across."""
    db = tmp_path / "db.sqlite"
    assert realtime("--db", db, "import-wxr", WXR) == 0
    assert rows(db, "SELECT slug, title, url, created, count FROM articles ORDER BY slug") == [
        (
            "cafe-owners-vote",
            "Café owners vote on Sunday opening",
            "https://gazette.example/2019/04/caf%c3%a9-owners-vote/",
            "2019-04-01T09:00:00.000Z",
            1,
        ),
        (
            "harbour-bridge-reopens",
            "Harbour bridge reopens",
            "https://gazette.example/2019/03/harbour-bridge-reopens/",
            "2019-03-04T09:00:00.000Z",
            3,
        ),
    ]
    comments = rows(
        db, "SELECT id, article, parent, author, email, body, created, status FROM comments"
    )
    assert comments == [
        (1, "harbour-bridge-reopens", None, "Ingrid Søberg", "ingrid@example.org",
         "Finally! I cycled across this morning & it's smooth.\n\n"
         "The new lighting is a real improvement.", "2019-03-04T10:15:02.000Z", "published"),
        (2, "harbour-bridge-reopens", 1, "José Álvarez", "jose@example.org",
         "Two years and 12 % over budget.\nWas the ferry ever full?",
         "2019-03-04T11:00:00.000Z", "published"),
        (3, "harbour-bridge-reopens", 2, "Zoë", None,
         "Packed at rush hour, José.\n\nQuiet mid-afternoon.", "2019-03-04T12:30:45.000Z",
         "published"),
        (4, "cafe-owners-vote", None, "Łukasz Nowak", "lukasz@example.org",
         "Sunday coffee <3 — yes please.", "2019-04-01T11:00:00.000Z", "published"),
    ]  # fmt: skip
    assert rows(db, "SELECT article, parent, author, body, created, reason FROM pending") == [
        (
            "harbour-bridge-reopens",
            None,
            "Waiting Reader",
            "Held for moderation: is the bus lane back?",
            "2019-03-05T07:00:00.000Z",
            "held in WordPress",
        )
    ]
    before = snapshot(db)
    assert realtime("--db", db, "import-wxr", WXR) == 0  # the same file again adds nothing
    assert snapshot(db) == before


async def test_wxr_comments_reach_an_existing_article_by_link(
    server: ThreadServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """An article the site already created (same link, other slug) gets the WordPress comments,
    and the server then lists the published ones."""
    link = "https://gazette.example/2019/03/harbour-bridge-reopens/"
    response = await client.put(
        "/api/articles/bridge", json={"title": "Bridge", "url": link}, headers=AUTH
    )
    assert response.status_code == 201
    assert await asyncio.to_thread(realtime, "--db", server.settings.db, "import-wxr", WXR) == 0
    page = (await client.get("/api/articles/bridge/comments")).json()
    assert page["count"] == 3 and [c["author"] for c in page["comments"]] == [
        "Ingrid Søberg",
        "José Álvarez",
        "Zoë",
    ]
    assert (await client.get("/api/articles/harbour-bridge-reopens")).status_code == 404


def test_wxr_with_a_doctype_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Entity declarations ("billion laughs") never get expanded: a DOCTYPE is refused."""
    entities = "".join(f'<!ENTITY e{n} "{f"&e{n - 1};" * 10 if n else "lol"}">' for n in range(10))
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss>&e9;</rss>')
    db = tmp_path / "db.sqlite"
    assert realtime("--db", db, "import-wxr", bomb) == 1
    assert "DOCTYPE" in capsys.readouterr().err
    assert not db.exists()


def test_no_address_in_logs_or_messages(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """At debug level, import-wxr, import and export log nothing with an e-mail address in it;
    only the export file itself holds them."""
    caplog.set_level(logging.DEBUG)
    debug = tmp_path / "debug.toml"
    debug.write_text('log_level = "debug"\n')
    db, copy, export = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "export.jsonl"
    for args in (
        ("import-wxr", WXR),
        ("export", export),
        ("backup", tmp_path / "backup.sqlite"),
    ):
        assert main(["--config", str(debug), "--db", str(db), *map(str, args)]) == 0
    assert main(["--config", str(debug), "--db", str(copy), "import", str(export)]) == 0
    out, err = capfd.readouterr()
    assert "ingrid@example.org" in export.read_text()
    assert "imported 4 comments and 1 held ones" in err and caplog.records  # logs did run
    assert "@" not in out + err + caplog.text


# ---- votes, pins and formatting travel; html is made again ---------------------------------


async def test_export_and_import_carry_format_votes_and_pins(
    start_server: Any, tmp_path: Path
) -> None:
    """A Markdown comment with votes and a pin comes back with the same html, counts and pin;
    the voters (keyed hashes) stay behind, so the import has no votes rows."""
    server: ThreadServer = start_server()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.put(f"/api/articles/{SLUG}", json={"title": "T"}, headers=auth)
        posted = (await post_comment(http, SLUG, body="**bold** and `code`")).json()["comment"]
        for n, value in enumerate((1, 1, -1)):
            vote = {"voter": f"voter-{n:012d}", "value": value}
            assert (await http.post(f"/api/comments/{posted['id']}/vote", json=vote)).is_success
        await http.post(f"/api/admin/comments/{posted['id']}/pin", headers=auth)
        before = (await http.get(f"/api/comments/{posted['id']}")).json()
    server.stop()
    export = tmp_path / "out.jsonl"
    assert await asyncio.to_thread(realtime, "--db", server.settings.db, "export", export) == 0
    record = [json.loads(line) for line in export.read_text().splitlines()][-1]
    assert (record["format"], record["up"], record["down"], record["pinned"]) == (
        "markdown",
        2,
        1,
        True,
    )
    assert "html" not in record and "voter" not in export.read_text()
    target = tmp_path / "new.sqlite"
    assert await asyncio.to_thread(realtime, "--db", target, "import", export) == 0
    fresh = start_server(db=target)
    async with httpx.AsyncClient(base_url=fresh.url) as http:
        after = (await http.get(f"/api/comments/{posted['id']}")).json()
    assert after == before
    assert rows(target, "SELECT count(*) FROM votes") == [(0,)]


@pytest.mark.parametrize("version", [3, 4, 5])
async def test_comments_from_before_formatting_get_their_html_at_start(
    start_server: Any, tmp_path: Path, version: int
) -> None:
    """A database at schema 3, 4 or 5 (before formatting): its comments, held ones too, get html at
    start, as text (as they were shown)."""
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        for migration in MIGRATIONS[:version]:
            conn.executescript(migration)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(
            "INSERT INTO articles (slug, title, created, count) VALUES (?, 'T', ?, 1)",
            (SLUG, "2026-01-01T00:00:00.000Z"),
        )
        conn.execute(
            "INSERT INTO comments (article, author, avatar, body, created, token_hash)"
            " VALUES (?, 'Kari', '00', ?, '2026-01-01T00:00:00.000Z', x'00')",
            (SLUG, "**typed as text**\nhttps://example.org/a"),
        )
        conn.execute(
            "INSERT INTO pending (article, author, avatar, body, created, token_hash, reason)"
            " VALUES (?, 'Per', '00', 'Held *then*', '2026-01-01T00:00:01.000Z', x'00', 'r')",
            (SLUG,),
        )
    server = start_server(db=db)
    async with httpx.AsyncClient(base_url=server.url) as http:
        comment = (await http.get("/api/comments/1")).json()
        approved = await http.post(
            "/api/admin/pending/1/approve", headers={"Authorization": f"Bearer {ADMIN}"}
        )
    assert approved.json()["html"] == "<p>Held *then*</p>"
    assert comment["body"] == "**typed as text**\nhttps://example.org/a"
    assert comment["html"] == (
        '<p>**typed as text**<br><a href="https://example.org/a" target="_blank"'
        ' rel="nofollow ugc noopener">https://example.org/a</a></p>'
    )
    assert rows(db, "SELECT count(*) FROM comments WHERE html IS NULL") == [(0,)]
    assert rows(db, "SELECT count(*) FROM pending WHERE html IS NULL") == [(0,)]
