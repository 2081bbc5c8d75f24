"""The only door to the database: everything that speaks SQL lives in this package.

- `core`: the `Store`, the one interface above every database (reads, and writes through
  the group-commit writer), with its SQL written once
- `db`: what the Store asks of a database backend (`Backend`, `Tx`)
- `backends`: `open_backend`, the backend named by the URL
- `sqlite`: the SQLite backend (the embedded default); `schema`: its numbered migrations;
  `file_guard`: its check that the database path still names the file it has open
- `postgres`: the PostgreSQL backend (several machines); `pg_schema`: its numbered migrations;
  `pg_notify`: LISTEN/NOTIFY as the postgres hub's link
- `group_commit`: the writer that puts concurrent writes into one transaction
- `moderation`: the SQL of the moderation queue; `archive`: backup, export and import
- `notices`: what each change writes to the notification outbox (in the change's transaction);
  `outbox`: claiming rows with a lease, settling them, listing and retrying dead ones
"""

from __future__ import annotations

from realtime.store.core import Store
from realtime.store.db import Backend, SchemaTooNew, Tx, is_postgres_url
from realtime.store.results import Authorship, Change, Edited, NewComment, Posted, Removed
from realtime.store.schema import MIGRATIONS, migrate

__all__ = [
    "MIGRATIONS",
    "Authorship",
    "Backend",
    "Change",
    "Edited",
    "NewComment",
    "Posted",
    "Removed",
    "SchemaTooNew",
    "Store",
    "Tx",
    "is_postgres_url",
    "migrate",
]
