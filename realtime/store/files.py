"""The SQLite database as files: who has it open, and putting a backup in its place.

Every process that opens the database through the Store (a server, each of its workers, a
command) holds a shared `flock` on `<db>.lock` until it closes it; `realtime restore` needs that
lock exclusively, so it refuses while anything has the database open. SQLite's own locks cannot
tell this: an idle server holds none of them between transactions. A `flock` is released by the
kernel when its process ends, even by SIGKILL, so a crashed server never leaves a stale lock (a
pid file would).

Restoring checks the copy (integrity, a schema this version knows), writes it beside the
database, folds the old database's WAL into it and removes it (a WAL left beside the new file
would be replayed into it), keeps the old file as `<db>.before-restore`, and renames the copy
into place: a crash at any point leaves either the old database or the new one, whole.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from pathlib import Path
from typing import IO

from realtime.errors import Conflict, Invalid, Unavailable
from realtime.store.schema import MIGRATIONS


class InUse:
    """A shared lock on the database for as long as this process has it open."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    @classmethod
    def take(cls, db: Path) -> InUse:
        handle = lock_path(db).open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise Unavailable(f"{db} is being restored; try again in a moment") from None
        return cls(handle)

    def release(self) -> None:
        self._handle.close()  # closing the descriptor drops the flock


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def restore(source: Path, db: Path) -> int:
    """Put the backup `source` in place of the database `db`; returns its comment count."""
    comments = check_copy(source)
    db.parent.mkdir(parents=True, exist_ok=True)
    with lock_path(db).open("ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"{db} is open in another process (a running server?): stop it first"
            ) from None
        incoming = db.with_name(db.name + ".restoring")
        shutil.copyfile(source, incoming)
        _fsync(incoming)
        if db.exists():
            _fold_wal(db)
            kept = db.with_name(db.name + ".before-restore")
            kept.unlink(missing_ok=True)
            os.link(db, kept)
        os.replace(incoming, db)
        _fsync_dir(db.parent)
    return comments


def check_copy(source: Path) -> int:
    """The copy must be a whole SQLite database of this program with a schema it knows."""
    if not source.is_file():
        raise Invalid(f"no file {source}", "file")
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            comments = conn.execute("SELECT count(*) FROM comments").fetchone()[0]
            conn.execute("SELECT value FROM meta WHERE key = 'avatar_key'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise Invalid(f"{source} is not a database of this program: {exc}", "file") from None
    if verdict is None or verdict[0] != "ok":
        raise Invalid(f"{source} failed its integrity check: {verdict}", "file")
    if version > len(MIGRATIONS):
        raise Invalid(f"{source} has schema {version}, newer than this version knows", "file")
    return int(comments)


def _fold_wal(db: Path) -> None:
    """Checkpoint the old database's WAL into it and remove the WAL and its index."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
