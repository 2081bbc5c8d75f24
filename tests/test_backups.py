"""Automatic backups (taken while posters post, rotated, failures counted and retried) and
`realtime restore` (refused while a server runs, the file checked, swapped in atomically)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from realtime.store import archive, postgres
from tests.conftest import ADMIN, post_comment
from tests.cutting import cut_short, sqlite_workers, sqlite_workers_back_to
from tests.servers import UNIT, ThreadServer
from tests.test_archive import assert_counts_consistent, rows
from tests.test_metrics import value
from tests.test_moderators import cli

OWNER = {"Authorization": f"Bearer {ADMIN}"}
EVERY_HALF_SECOND = 0.5 / 60  # backup_interval_minutes


async def metric(http: httpx.AsyncClient, name: str) -> float:
    return value((await http.get("/metrics")).text, name)


def taken_at(backup: Path) -> datetime:
    """The moment a backup started, from its name (realtime-20261126T120000123456Z.db)."""
    stamp = backup.name.removeprefix("realtime-").removesuffix("Z.db")
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)


async def test_backups_while_four_posters_post_restore_to_a_working_server(
    start_server: Any, tmp_path: Path
) -> None:
    """Each backup holds every comment acknowledged before it began; the newest restores, and a
    server on it serves the comments and takes new ones; only `backup_keep` are kept."""
    directory = tmp_path / "backups"
    server: ThreadServer = start_server(
        backup_interval_minutes=EVERY_HALF_SECOND, backup_keep=2, backup_dir=str(directory)
    )
    db = Path(server.settings.db)
    acknowledged: list[tuple[datetime, int]] = []
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put("/api/articles/b", json={"title": "B"}, headers=OWNER)

        async def poster(worker: int) -> None:
            while not stop.is_set():
                response = await post_comment(http, "b", body=f"poster {worker}")
                assert response.status_code == 201
                acknowledged.append((datetime.now(UTC), response.json()["comment"]["id"]))

        posters = [asyncio.create_task(poster(n)) for n in range(4)]
        async with asyncio.timeout(30 * UNIT):
            while await metric(http, "realtime_backups_total") < 3:
                await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*posters)
        assert await metric(http, "realtime_backup_failures_total") == 0
        assert await metric(http, "realtime_last_backup_timestamp_seconds") > 0
        newest = Path(shutil.copy(max(directory.glob("realtime-*.db")), tmp_path))
        assert_counts_consistent(newest)
        assert rows(newest, "PRAGMA integrity_check") == [("ok",)]
        saved = {row[0] for row in rows(newest, "SELECT id FROM comments")}
        before = {comment for moment, comment in acknowledged if moment < taken_at(newest)}
        assert before and before <= saved
        refused = cli(db, "restore", str(newest))  # the server still has the database open
        assert refused.returncode == 1 and "open in another process" in refused.stderr
    server.stop()
    assert len(list(directory.glob("realtime-*.db"))) == 2  # backup_keep, once they stop
    restored = cli(db, "restore", str(newest))
    assert restored.returncode == 0, restored.stderr
    assert Path(f"{db}.before-restore").exists()
    again: ThreadServer = start_server(db=db)
    async with httpx.AsyncClient(base_url=again.url, timeout=10) as http:
        page = (await http.get("/api/articles/b/comments?limit=500")).json()
        assert page["count"] == len(saved) and {c["id"] for c in page["comments"]} <= saved
        new = await post_comment(http, "b", body="after the restore")
        assert new.status_code == 201 and new.json()["comment"]["id"] > max(saved)


async def test_a_failed_backup_is_counted_retried_and_harmless(
    start_server: Any, tmp_path: Path
) -> None:
    """With the directory gone, backups fail (counted, not fatal); once it is back, they resume."""
    directory = tmp_path / "gone"
    server = start_server(backup_interval_minutes=EVERY_HALF_SECOND, backup_dir=str(directory))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put("/api/articles/b", json={"title": "B"}, headers=OWNER)
        shutil.rmtree(directory)
        async with asyncio.timeout(10 * UNIT):
            while await metric(http, "realtime_backup_failures_total") < 2:
                await asyncio.sleep(0.1)
        assert not directory.exists()  # never made again behind the operator's back
        assert (await post_comment(http, "b")).status_code == 201
        taken = await metric(http, "realtime_backups_total")
        directory.mkdir()
        async with asyncio.timeout(10 * UNIT):
            while await metric(http, "realtime_backups_total") <= taken:
                await asyncio.sleep(0.1)
        assert list(directory.glob("realtime-*.db"))


def test_restore_checks_the_file_and_changes_nothing_when_it_is_bad(tmp_path: Path) -> None:
    """Not a database, a damaged one, or one of a newer schema: refused, the database intact."""
    db = tmp_path / "live.sqlite"
    assert cli(db, "article", "put", "kept", "--title", "Kept").returncode == 0
    before = db.read_bytes()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    newer = tmp_path / "newer.db"
    shutil.copyfile(db, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 999")
    for bad, why in ((junk, "not a database"), (newer, "newer"), (tmp_path / "none.db", "no file")):
        result = cli(db, "restore", str(bad))
        assert result.returncode == 1 and why in result.stderr, result.stderr
    assert db.read_bytes() == before
    assert rows(db, "SELECT slug FROM articles") == [("kept",)]


async def test_backups_are_off_by_default(server: ThreadServer, client: httpx.AsyncClient) -> None:
    """No interval, no backup task, no backup metrics."""
    assert "realtime_backups_total" not in (await client.get("/metrics")).text
    assert not (Path(server.settings.db).parent / "backups").exists()


@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_automatic_backups_of_postgresql_are_pg_dumps(
    start_server: Any, tmp_path: Path
) -> None:
    """On PostgreSQL the same schedule writes pg_dump archives (`backup_dir` is required)."""
    directory = tmp_path / "pg-backups"
    server = start_server(backup_interval_minutes=EVERY_HALF_SECOND, backup_dir=str(directory))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put("/api/articles/b", json={"title": "B"}, headers=OWNER)
        assert (await post_comment(http, "b")).status_code == 201
        async with asyncio.timeout(30 * UNIT):
            while await metric(http, "realtime_backups_total") < 1:
                await asyncio.sleep(0.1)
        assert await metric(http, "realtime_backup_failures_total") == 0
    dumps = list(directory.glob("realtime-*.dump"))
    assert dumps and dumps[0].read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    refused = cli(server.settings.db, "restore", str(dumps[0]))
    assert refused.returncode == 1 and "pg_restore" in refused.stderr


def children_named(name: str) -> list[int]:
    """This process's live child processes running `name`."""
    found = []
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                    found.append(int(pid))
    return found


@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_a_pg_dump_cut_short_by_shutdown_leaves_no_process_or_file(
    new_db: Any, tmp_path: Path
) -> None:
    """A server stopping mid-backup cancels the dump: pg_dump is killed and reaped (no orphan,
    no process handle left open to fail the event loop's close), and no partial file stays."""
    url = new_db()
    assert cli(url, "migrate").returncode == 0
    target = tmp_path / "cut.dump"
    blocker = await asyncpg.connect(url)
    try:
        # pg_dump share-locks every table it dumps: an exclusive lock holds it mid-dump.
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
        dumping = asyncio.create_task(postgres.dump(url, target))
        async with asyncio.timeout(30 * UNIT):
            while not children_named("pg_dump"):
                await asyncio.sleep(0.05)
        dumping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await dumping
        assert children_named("pg_dump") == []
        await transaction.rollback()
    finally:
        await blocker.close()
    assert list(tmp_path.glob("cut.dump*")) == []


async def test_a_sqlite_backup_cut_short_at_any_point_leaves_nothing_open(tmp_path: Path) -> None:
    """Cancelled anywhere (a server stopping mid-backup), a backup is dropped whole: no partial
    file, and no connection left open in its thread (it would outlive the event loop, and keep
    the database locked against `realtime restore`)."""
    db = tmp_path / "db.sqlite"
    assert cli(db, "migrate").returncode == 0
    before = sqlite_workers()
    for turns in range(40):  # cancel after 0, 1, 2 … loop turns: every await of the copy
        target = tmp_path / f"cut-{turns}.db"
        await cut_short(archive.backup(db, target), turns)
        assert not target.with_name(f"{target.name}.partial").exists()
        await sqlite_workers_back_to(before)
    with sqlite3.connect(db, timeout=0) as conn:
        conn.execute("BEGIN EXCLUSIVE")
