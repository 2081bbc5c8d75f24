"""Faults met for real: a full disk, a database file that goes away or is replaced underneath,
a volume that turns read-only. Each must fail safe: 503 in the error shape with Retry-After,
nothing half-written, nothing acknowledged (nor sent to readers) that a restart would not find,
one log line, and the server and its readers stay up.

The disks are real: a small tmpfs, and an ext4 image on a loop device that the kernel remounts
read-only on an error. Mounting needs root (as the suite runs in CI); every mount is undone at the
end of its test, also when the test fails. The process limits are in test_limits.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from realtime.errors import Unavailable
from realtime.store import Store, Tx
from tests.conftest import ADMIN, SLUG
from tests.servers import ROOT, UNIT, ThreadServer
from tests.wsclient import Reader

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a filesystem needs root")

Mount = Callable[..., Path]
POSTERS = 4
MAX_POSTS = 3000  # a 4 MiB disk is full long before this
GUARD_LINE = "writes now answer 503"  # the file guard's one log line
WRITE_FAIL_LINE = "writes fail"  # the writer's one line per run of failed commits


@pytest.fixture
def mounts() -> Iterator[Mount]:
    """`mount(target, *args)` mounts at `target`; everything mounted is unmounted at the end."""
    mounted: list[Path] = []

    def mount(target: Path, *args: str) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        run("mount", *args, str(target))
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        # Lazy: a server may still hold files there, or the test unmounted it already.
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
    return done.stdout


def tmpfs(mounts: Mount, target: Path, size: str) -> Path:
    return mounts(target, "-t", "tmpfs", "-o", f"size={size}", "tmpfs")


@contextlib.asynccontextmanager
async def open_thread(
    server: ThreadServer, readers: int
) -> AsyncIterator[tuple[httpx.AsyncClient, list[Reader]]]:
    """A client with the test article created, and `readers` readers past their hello; all
    closed at the end."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        response = await http.put(f"/api/articles/{SLUG}", json={"title": "F"}, headers=auth)
        assert response.status_code == 201, response.text
        opened: list[Reader] = []
        try:
            for _ in range(readers):
                opened.append(await Reader.open(f"{server.ws_url}/ws/articles/{SLUG}"))
                assert (await opened[-1].next())["type"] == "hello"
            yield http, opened
        finally:
            for reader in opened:
                await reader.close()


async def post(http: httpx.AsyncClient, body: str) -> httpx.Response:
    return await http.post(f"/api/articles/{SLUG}/comments", json={"author": "K", "body": body})


async def post_ok(http: httpx.AsyncClient, body: str) -> int:
    response = await post(http, body)
    assert response.status_code == 201, response.text
    comment_id: int = response.json()["comment"]["id"]
    return comment_id


def assert_unavailable(response: httpx.Response) -> None:
    """503 in the error shape, with a Retry-After."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["retry-after"]) > 0
    error = response.json()["error"]
    assert error["status"] == 503 and error["code"] == "unavailable" and error["message"]


async def assert_received_exactly(readers: list[Reader], ids: list[int]) -> None:
    """Each reader got comment events for exactly `ids`, in order, and nothing after them:
    a ping answered by a pong, with no comment before it."""
    for reader in readers:
        got = [event["comment"]["id"] for event in await reader.comments(len(ids))]
        assert got == ids
        await reader.connection.send('{"type": "ping"}')
        while (event := await reader.next())["type"] != "pong":
            assert event["type"] != "comment", f"unacknowledged comment sent: {event}"


async def stored_ids(server: ThreadServer) -> list[int]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        page = (await http.get(f"/api/articles/{SLUG}/comments?limit=500")).json()
    ids = [comment["id"] for comment in page["comments"]]
    assert page["count"] == len(ids)
    return ids


def log_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if text in record.getMessage()]


# ---- a full disk -----------------------------------------------------------------------------


async def post_until_full(http: httpx.AsyncClient) -> tuple[list[int], list[httpx.Response]]:
    """`POSTERS` concurrent posters of 3 KB comments, each until it is refused; bounded."""
    acked: list[int] = []
    refused: list[httpx.Response] = []

    async def poster(number: int) -> None:
        for n in range(MAX_POSTS // POSTERS):
            response = await post(http, f"poster {number} comment {n} " + "x" * 3000)
            if response.status_code != 201:
                refused.append(response)
                return
            acked.append(response.json()["comment"]["id"])

    async with asyncio.timeout(120 * UNIT):
        await asyncio.gather(*(poster(number) for number in range(POSTERS)))
    return sorted(acked), refused


@needs_root
async def test_full_disk_refuses_then_recovers(
    mounts: Mount, start_server: Callable[..., ThreadServer], tmp_path: Path
) -> None:
    """Posting onto a full disk: 503 with Retry-After, count equal to the rows, readers get
    exactly the acknowledged comments, everyone stays up, and posting works once space is freed."""
    disk = tmpfs(mounts, tmp_path / "disk", "4m")
    ballast = disk / "ballast"
    ballast.write_bytes(bytes(512 * 1024))  # what the operator will delete to make room
    server = start_server(db=disk / "db.sqlite")
    async with open_thread(server, 3) as (http, readers):
        acked, refused = await post_until_full(http)
        assert acked and len(refused) == POSTERS
        for response in refused:
            assert_unavailable(response)
        await assert_received_exactly(readers, acked)
        assert await stored_ids(server) == acked
        assert (await http.get("/healthz")).status_code == 200

        ballast.unlink()
        again = await post_ok(http, "room again")
        await assert_received_exactly(readers, [again])
        assert await stored_ids(server) == [*acked, again]
    with sqlite3.connect(disk / "db.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@needs_root
def test_backup_onto_a_full_disk(
    mounts: Mount, start_server: Callable[..., ThreadServer], tmp_path: Path
) -> None:
    """`realtime backup` onto a disk too small: a clear error, the old copy under the target
    name left as it was, and no partial file."""
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=10 * UNIT) as http:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        assert http.put(f"/api/articles/{SLUG}", json={"title": "B"}, headers=auth).is_success
        for n in range(60):
            body = {"author": "K", "body": f"{n} " + "y" * 8000}
            assert http.post(f"/api/articles/{SLUG}/comments", json=body).status_code == 201
    disk = tmpfs(mounts, tmp_path / "small", "256k")
    target = disk / "comments.db"
    target.write_bytes(b"yesterday's backup")
    done = subprocess.run(
        [sys.executable, "-m", "realtime", "backup", "--db", server.settings.db, str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60 * UNIT,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("realtime backup:") and "full" in done.stderr
    assert str(target) in done.stderr and "Traceback" not in done.stderr
    assert target.read_bytes() == b"yesterday's backup"
    assert [path.name for path in disk.iterdir()] == ["comments.db"]


# ---- the database file goes away underneath --------------------------------------------------


def pull_the_rug(how: str, disk: Path, backup: Path) -> None:
    """What an operator or the host does to the live database's files."""
    db = disk / "db.sqlite"
    if how == "unmounted":
        run("umount", "-l", str(disk))
        return
    if how == "moved aside":
        os.rename(db, disk / "aside.sqlite")
    else:  # a backup restored over it, as `cp` then `mv` would
        shutil.copy(backup, disk / "restoring")
        os.replace(disk / "restoring", db)
    for suffix in ("-wal", "-shm"):
        (disk / f"db.sqlite{suffix}").unlink()


@needs_root
@pytest.mark.parametrize("how", ["moved aside", "replaced by a backup", "unmounted"])
async def test_database_file_gone(
    how: str,
    mounts: Mount,
    start_server: Callable[..., ThreadServer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once the path no longer names the open file: posts 503 (never 201), /healthz 503, one log
    line, readers get nothing more, and a restart finds nothing that was refused."""
    caplog.set_level(logging.WARNING, logger="realtime")
    disk = tmpfs(mounts, tmp_path / "disk", "16m")
    server = start_server(db=disk / "db.sqlite")
    async with open_thread(server, 2) as (http, readers):
        before = [await post_ok(http, f"before {n}") for n in range(3)]
        backup = tmp_path / "backup.sqlite"
        with sqlite3.connect(disk / "db.sqlite") as live, sqlite3.connect(backup) as copy:
            live.backup(copy)
        after_backup = [await post_ok(http, f"after the backup {n}") for n in range(2)]
        await assert_received_exactly(readers, [*before, *after_backup])

        pull_the_rug(how, disk, backup)
        for n in range(5):
            assert_unavailable(await post(http, f"refused {n}"))
        assert_unavailable(await http.get("/healthz"))
        assert_unavailable(await post(http, "refused again"))
        await assert_received_exactly(readers, [])
    assert len(log_lines(caplog, GUARD_LINE)) == 1

    server.stop()
    restarted = start_server(db=disk / "db.sqlite")
    if how == "replaced by a backup":
        assert await stored_ids(restarted) == before
    else:  # the operator took the file away: a restart starts afresh, with nothing refused in it
        async with httpx.AsyncClient(base_url=restarted.url, timeout=10 * UNIT) as http:
            assert (await http.get(f"/api/articles/{SLUG}")).status_code == 404


async def test_file_replaced_during_a_commit(tmp_path: Path) -> None:
    """A path that stops naming the file while a group commits: that group is refused and
    publishes nothing, though SQLite committed it (to a file no restart would open)."""
    store = await Store.open(tmp_path / "db.sqlite")
    published: list[int] = []

    async def work(tx: Tx) -> int:
        await tx.run("INSERT INTO meta (key, value) VALUES ('during', 'commit')")
        os.rename(tmp_path / "db.sqlite", tmp_path / "aside.sqlite")
        return 1

    try:
        with pytest.raises(Unavailable):
            await store.writer.submit(work, published.append)
        assert published == []
        with pytest.raises(Unavailable):
            await store.ping()
    finally:
        await store.close()


# ---- a volume that turns read-only -----------------------------------------------------------


@pytest.fixture
def ext4(mounts: Mount, tmp_path: Path) -> tuple[Path, Path, str]:
    """An ext4 image on a loop device, mounted with errors=remount-ro: (mount point, image,
    the kernel's name for its device)."""
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 is not installed (e2fsprogs)")
    image = tmp_path / "ext4.img"
    with image.open("wb") as handle:
        handle.truncate(32 << 20)
    run("mkfs.ext4", "-q", "-F", str(image))
    try:
        disk = mounts(tmp_path / "ext4", "-o", "loop,errors=remount-ro", str(image))
    except RuntimeError as exc:
        pytest.skip(f"no loop devices here: {exc}")
    device = Path(run("findmnt", "-n", "-o", "SOURCE", str(disk)).strip()).name
    return disk, image, device


@needs_root
async def test_volume_turns_read_only(
    ext4: tuple[Path, Path, str],
    start_server: Callable[..., ThreadServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The kernel remounts the volume read-only under a running server: posts 503 with one log
    line, readers get nothing unacknowledged, and every 201 is there after a restart."""
    caplog.set_level(logging.WARNING, logger="realtime")
    disk, image, device = ext4
    server = start_server(db=disk / "db.sqlite")
    async with open_thread(server, 2) as (http, readers):
        acked = [await post_ok(http, f"before {n}") for n in range(3)]
        Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("test\n")
        options = run("findmnt", "-n", "-o", "OPTIONS", str(disk)).strip().split(",")
        assert {"ro", "emergency_ro"} & set(options)  # older kernels say ro, newer emergency_ro
        for n in range(5):
            assert_unavailable(await post(http, f"refused {n}"))
        await assert_received_exactly(readers, acked)
    assert len(log_lines(caplog, WRITE_FAIL_LINE)) == 1

    server.stop()
    run("umount", str(disk))
    subprocess.run(["e2fsck", "-f", "-y", str(image)], capture_output=True, check=False)
    run("mount", "-o", "loop", str(image), str(disk))
    restarted = start_server(db=disk / "db.sqlite")
    assert await stored_ids(restarted) == acked


@needs_root
async def test_a_group_that_changes_nothing_is_no_sign_of_recovery(
    ext4: tuple[Path, Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    """On a read-only volume a transaction that changes no row still commits (the notification
    sender's poll, claiming nothing): that is not "writes work again", and the failed writes
    around it stay one run of failures with one log line."""
    caplog.set_level(logging.WARNING, logger="realtime")
    disk, _, device = ext4
    store = await Store.open(disk / "db.sqlite")

    def inserting(key: str) -> Callable[[Tx], Awaitable[None]]:
        async def work(tx: Tx) -> None:
            await tx.run("INSERT INTO meta (key, value) VALUES (?, 'x')", (key,))

        return work

    async def changing_nothing(tx: Tx) -> None:
        await tx.run("UPDATE meta SET value = 'y' WHERE key = 'no such key'")

    try:
        await store.writer.submit(inserting("before"))
        Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("test\n")
        for n in range(3):
            with pytest.raises(Unavailable):
                await store.writer.submit(inserting(f"refused {n}"))
            await store.writer.submit(changing_nothing)
    finally:
        await store.close()
    assert len(log_lines(caplog, WRITE_FAIL_LINE)) == 1
    assert log_lines(caplog, "writes work again") == []
