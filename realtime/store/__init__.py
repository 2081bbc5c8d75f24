"""The only door to SQLite: everything that speaks SQL lives in this package.

- `core`: the `Store` (reads, and writes through the group-commit writer)
- `schema`: numbered migrations against `PRAGMA user_version`
"""

from __future__ import annotations

from realtime.store.core import Authorship, Change, Edited, NewComment, Posted, Removed, Store
from realtime.store.schema import MIGRATIONS, migrate

__all__ = [
    "MIGRATIONS",
    "Authorship",
    "Change",
    "Edited",
    "NewComment",
    "Posted",
    "Removed",
    "Store",
    "migrate",
]
