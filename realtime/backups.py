"""Automatic backups: every `backup_interval_minutes`, the same online, integrity-checked copy as
`realtime backup`, into `backup_dir`, keeping the newest `backup_keep`.

A backup that fails (disk full, directory gone, database busy) is logged in one line, counted
(`realtime_backup_failures` in /metrics) and retried after a minute or the interval, whichever is
shorter; it never stops the server. The directory is made at start but never again: a directory
that disappears is usually an unmounted disk, and recreating it would fill the disk under it.
With several processes on one database (`--workers`), a lock file in the directory lets one of
them take each backup. On PostgreSQL the backup is `pg_dump`'s (as `realtime backup` makes it,
`.dump` files, `backup_dir` required); a deployment there usually has the database's own base
backups and WAL archive, which these do not replace.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from realtime.config import ConfigError, Settings
from realtime.store.archive import backup
from realtime.store.db import is_postgres_url
from realtime.store.sqlite import sqlite_path

log = logging.getLogger("realtime.backups")
PREFIX = "realtime-"
RETRY_SECONDS = 60.0


@dataclass
class BackupStats:
    taken: int = 0
    failed: int = 0
    last_success: float = 0.0  # Unix time of the newest good backup, 0 before the first


def backup_dir(settings: Settings) -> Path:
    if settings.backup_dir:
        return Path(settings.backup_dir)
    if is_postgres_url(settings.db):
        raise ConfigError("backup_dir: set it to back up a PostgreSQL database automatically")
    return sqlite_path(settings.db).parent / "backups"


class AutoBackup:
    def __init__(
        self, settings: Settings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.settings = settings
        self.directory = backup_dir(settings)
        self.interval = settings.backup_interval_minutes * 60
        self.suffix = ".dump" if is_postgres_url(settings.db) else ".db"
        self.clock = clock
        self.stats = BackupStats()

    def start(self) -> None:
        """Make the directory (once: see the module's docstring)."""
        self.directory.mkdir(parents=True, exist_ok=True)

    async def run(self) -> None:
        """Back up every interval until cancelled."""
        delay = self.interval
        while True:
            await asyncio.sleep(delay)
            delay = self.interval if await self.take() else min(RETRY_SECONDS, self.interval)

    async def take(self) -> bool:
        """One backup and the pruning after it; False (logged, counted) if it failed."""
        try:
            with _only_one(self.directory) as ours:
                if not ours:
                    return True  # another process of this server is taking it
                target = self.directory / f"{PREFIX}{self.clock():%Y%m%dT%H%M%S%fZ}{self.suffix}"
                comments = await backup(
                    self.settings.db, target, busy_timeout_ms=self.settings.busy_timeout_ms
                )
                removed = self.prune()
        except Exception as exc:
            self.stats.failed += 1
            log.warning("backup into %s failed: %s", self.directory, _one_line(exc))
            return False
        self.stats.taken += 1
        self.stats.last_success = time.time()
        log.info("backed up to %s (%d comments, %d old ones removed)", target, comments, removed)
        return True

    def backups(self) -> list[Path]:
        """Oldest first (the names sort by time)."""
        return sorted(self.directory.glob(f"{PREFIX}*{self.suffix}"))

    def prune(self) -> int:
        old = self.backups()[: -self.settings.backup_keep]
        for path in old:
            path.unlink(missing_ok=True)
        return len(old)


@contextmanager
def _only_one(directory: Path) -> Iterator[bool]:
    """A non-blocking lock file in the backup directory: whether this process holds it."""
    with (directory / ".lock").open("ab") as handle:  # fails if the directory is gone
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
