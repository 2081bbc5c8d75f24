"""Moving a site between the stores with `realtime export` and `realtime import`, and the other
copies on PostgreSQL (`backup` through pg_dump, `import-wxr`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from realtime.models import ArticleIn
from realtime.store import Store
from tests.conftest import SLUG, post_comment
from tests.pg import DATABASE, PostgresServer, fetch_rows
from tests.servers import UNIT, ThreadServer
from tests.test_archive import WXR, fill, realtime
from tests.test_store import edit_text, new_comment

pytestmark = pytest.mark.postgres


async def test_sqlite_to_postgres_and_back_byte_for_byte(
    server: ThreadServer,
    client: httpx.AsyncClient,
    postgres: PostgresServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SQLite → export → import into PostgreSQL → export: the same bytes (ids, parents, counts,
    change numbers, held comments, closed articles); and back into a new SQLite file, the same
    again. On PostgreSQL the next comment and the next change continue above the imported ones,
    and importing the same records twice is refused, changing nothing."""
    await fill(client)
    for n in range(3):  # a few more changes, so that revs run past 2
        posted = (await post_comment(client, SLUG, body=f"more {n}")).json()
        edit = {"Authorization": f"Bearer {posted['token']}"}
        response = await client.patch(
            f"/api/comments/{posted['comment']['id']}", json={"body": "changed"}, headers=edit
        )
        assert response.status_code == 200
    lite, pg, back = server.settings.db, postgres.fresh_url(), tmp_path / "back.sqlite"
    exports = [tmp_path / f"{name}.jsonl" for name in ("lite", "pg", "back")]
    assert await asyncio.to_thread(realtime, "--db", lite, "export", exports[0]) == 0
    assert await asyncio.to_thread(realtime, "--db", pg, "import", exports[0]) == 0
    assert await asyncio.to_thread(realtime, "--db", pg, "export", exports[1]) == 0
    assert await asyncio.to_thread(realtime, "--db", back, "import", exports[1]) == 0
    assert await asyncio.to_thread(realtime, "--db", back, "export", exports[2]) == 0
    assert exports[0].read_bytes() == exports[1].read_bytes() == exports[2].read_bytes()

    records = [json.loads(line) for line in exports[0].read_text().splitlines()]
    top = max(r["id"] for r in records if r["type"] == "comment")
    top_rev = max(r["rev"] for r in records if r["type"] == "comment")
    assert top_rev >= 4
    store = await Store.open(pg)
    try:
        posted = await store.add_comment(new_comment(SLUG, "after the move"))
        assert posted.comment.id == top + 1 and posted.count == records[1]["count"] + 1
        edited = await store.edit_comment(
            posted.comment.id, edit_text("edited after"), "2026-11-27"
        )
        assert edited.rev == top_rev + 1
    finally:
        await store.close()
    capsys.readouterr()
    before = await fetch_rows(pg, "SELECT * FROM comments ORDER BY id")
    assert await asyncio.to_thread(realtime, "--db", pg, "import", exports[0]) == 1
    assert "is not above the database's highest id" in capsys.readouterr().err
    assert await fetch_rows(pg, "SELECT * FROM comments ORDER BY id") == before


def test_wxr_import_on_postgres_matches_sqlite(postgres: PostgresServer, tmp_path: Path) -> None:
    """The same WordPress file gives the same records on both stores (avatars aside: each
    database has its own key), and importing it again adds nothing."""
    lite, pg = tmp_path / "wp.sqlite", postgres.fresh_url()
    exports = {}
    for name, db in (("lite", str(lite)), ("pg", pg)):
        assert realtime("--db", db, "import-wxr", WXR) == 0
        assert realtime("--db", db, "import-wxr", WXR) == 0
        out = tmp_path / f"{name}.jsonl"
        assert realtime("--db", db, "export", out) == 0
        exports[name] = [
            {key: value for key, value in json.loads(line).items() if key != "avatar"}
            for line in out.read_text().splitlines()
        ]
    assert exports["lite"] == exports["pg"]
    assert len([r for r in exports["pg"] if r["type"] == "comment"]) == 4


async def test_backup_on_postgres_is_a_pg_dump_of_its_schema(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """`realtime backup` on PostgreSQL writes a pg_dump (custom format) of the deployment's
    schema; restored into an empty database it holds the same comments."""
    url = postgres.fresh_url()
    store = await Store.open(url)
    try:
        await store.put_article("a", ArticleIn(title="A"), "2026-11-26T00:00:00.000Z")
        for n in range(5):
            await store.add_comment(new_comment("a", f"n{n}"))
    finally:
        await store.close()
    copy = tmp_path / "backup.dump"
    assert await asyncio.to_thread(realtime, "--db", url, "backup", copy) == 0
    assert copy.read_bytes()[:5] == b"PGDMP" and not copy.with_suffix(".dump.partial").exists()
    restored = f"restored_{tmp_path.name[-8:].replace('-', '_')}".lower()
    postgres.sql("postgres", f"CREATE DATABASE {restored}")
    with copy.open("rb") as dump:  # on standard input: pg_restore runs as another user
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(postgres.bin / "pg_restore")]
            + ["-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "-d", restored],
            stdin=dump,
            capture_output=True,
            timeout=60 * UNIT,
        )
    assert result.returncode == 0, result.stderr
    schema = url.rsplit("%3D", 1)[1]
    original = await fetch_rows(postgres.url(DATABASE), f"SELECT * FROM {schema}.comments")
    copied = await fetch_rows(postgres.url(restored), f"SELECT * FROM {schema}.comments")
    assert copied == original and len(copied) == 5
