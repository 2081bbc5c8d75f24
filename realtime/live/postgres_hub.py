"""Several server processes as one hub on PostgreSQL's LISTEN/NOTIFY (`hub = "postgres"`), so a
PostgreSQL deployment needs no Redis. The ordering, read-back and watcher logic is
`NetworkHub`'s, exactly as on Redis; the link (`realtime.store.pg_notify`) splits envelopes
over NOTIFY's 8,000-byte limit and joins them again.
"""

from __future__ import annotations

from realtime.live.hub import Backfill
from realtime.live.network_hub import NetworkHub
from realtime.store.pg_notify import PgLink


class PostgresHub(NetworkHub):
    def __init__(
        self, database_url: str, backlog_bytes: int, backfill: Backfill, **timing: float
    ) -> None:
        self._pg_link = PgLink(database_url)
        # The channels are named at `start`, once the schema is known.
        super().__init__(self._pg_link, "realtime", backlog_bytes, backfill, **timing)

    async def start(self) -> None:
        self.name_channels(await self._pg_link.channel_prefix())
        await super().start()
