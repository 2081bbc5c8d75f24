"""Notices when the database path no longer names the file this process has open.

An operator restoring a backup over the database, moving it aside, deleting its `-wal`, or a
volume unmounted underneath: SQLite keeps writing through its open descriptors and every commit
still succeeds, into a file that no later start will open. So the store remembers the device and
inode of the database file and of its `-wal` when it opens them, and `check()` compares them with
what the paths name now (one `stat` per file, a few microseconds: see BENCHMARKS.md). The writer
checks after each COMMIT, before acknowledging the group; `/healthz` checks too.

Once a path names another file, or none, the guard stays tripped until the process restarts on
the right file: that group and every later write answer 503 (nothing is acknowledged that a
restart would not find), `/healthz` answers 503 so a load balancer takes the process out, and one
log line says why. Putting the file back does not untrip it: the group that was refused when the
guard tripped is in that file, unacknowledged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from realtime.errors import Unavailable

log = logging.getLogger("realtime.store")

Identity = tuple[int, int]  # (st_dev, st_ino)


def identity(path: str) -> Identity:
    """The device and inode `path` names now."""
    found = os.stat(path)  # raises OSError (other than not found) for a volume in trouble
    return found.st_dev, found.st_ino


def _named(path: str) -> Identity | None:
    try:
        return identity(path)
    except FileNotFoundError:
        return None


class FileGuard:
    def __init__(self, expected: dict[str, Identity]) -> None:
        self._expected = expected
        self.problem: str | None = None

    @classmethod
    def watch(cls, database: str | Path) -> FileGuard:
        """Remember the files `database` and its `-wal` name now (right after the store opened
        them); an in-memory database, or a missing `-wal`, is simply not watched."""
        expected: dict[str, Identity] = {}  # paths as str: os.stat takes them fastest
        if str(database) not in ("", ":memory:"):
            path = str(Path(database).absolute())
            for watched in (path, path + "-wal"):
                found = _named(watched)
                if found is not None:
                    expected[watched] = found
        return cls(expected)

    def check(self) -> None:
        """Raise `Unavailable` unless every watched path still names the file opened."""
        if self.problem is None:
            self.problem = self._first_problem()
            if self.problem is None:
                return
            log.error(
                "%s: writes now answer 503 and /healthz fails until the server is restarted "
                "on the database file",
                self.problem,
            )
        raise Unavailable(f"the database file is gone from under the server ({self.problem})")

    def _first_problem(self) -> str | None:
        for path, expected in self._expected.items():
            try:
                now = identity(path)
            except FileNotFoundError:
                return f"{path} no longer exists"
            except OSError as exc:
                return f"{path} cannot be checked ({exc})"
            if now != expected:
                return f"{path} is no longer the file the server opened (replaced)"
        return None
