"""Bans: moderators ban the poster of a comment; a banned poster's next comment gets a 403.

A ban matches the poster's network, their e-mail, or both. The network is the client address
the per-client limits see (X-Forwarded-For from `trusted_proxies` only): an IPv4 address, or an
IPv6 /64 (one subscriber usually has a whole /64, and a new address in it costs nothing). What
is kept of it is a keyed hash (HMAC-SHA-256 under the database's `ban_key`) and, for moderators,
a /24 or /64 prefix: the comment keeps both for `client_address_days`, a ban for as long as it
lasts. E-mails are matched by their keyed hash too: no ban holds an address or an e-mail in clear.

A post is checked against the bans in force held in memory (a dict of keys: no database read on
the hot path, which would cost a post about a fifth more CPU; see BENCHMARKS.md). A ban made or
lifted here is in force here at once; one made by another process is read within a second, when
the watcher sees the bans' revision number move. An ending ban needs no reading: `expires` is
compared with the time of each post.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from realtime.config import Settings
from realtime.errors import Banned, Invalid
from realtime.models import Ban, BanIn, BanList, timestamp
from realtime.moderators.actors import Actor
from realtime.store import Store
from realtime.store.bans import Source

log = logging.getLogger("realtime.moderators")
IPV6_BAN_PREFIX = 64
IPV4_SHOWN_PREFIX = 24
SWEEP_SECONDS = 3600.0
POLL_SECONDS = 1.0
LIST_MAX = 500
FOREVER = "~"  # sorts after every timestamp: a ban for good, in the keys' map


def network(address: str) -> tuple[str, str] | None:
    """(what a ban matches, what moderators see) for a client address; None if it is not IP."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None  # "unknown", a Unix socket, a test client
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        shown = ipaddress.ip_network(f"{ip}/{IPV4_SHOWN_PREFIX}", strict=False)
        return str(ip), str(shown)
    matched = str(ipaddress.ip_network(f"{ip}/{IPV6_BAN_PREFIX}", strict=False))
    return matched, matched


class Client:
    """What the service keeps of a poster's address: the prefix, and the key a ban matches."""

    __slots__ = ("key", "prefix")

    def __init__(self, prefix: str | None, key: bytes | None) -> None:
        self.prefix = prefix
        self.key = key


class Bans:
    def __init__(self, settings: Settings, store: Store, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        # The bans in force: a hashed network or e-mail -> when its longest ban ends.
        self._ends: dict[bytes, str] = {}
        self._rev = -1  # not read yet

    def _key(self, kind: str, value: str) -> bytes:
        return hmac.new(self.store.ban_key, f"{kind}:{value}".encode(), hashlib.sha256).digest()

    def email_key(self, email: str) -> bytes:
        return self._key("email", email.strip().lower())

    def client(self, address: str | None) -> Client:
        found = network(address) if address is not None else None
        if found is None:
            return Client(None, None)
        return Client(found[1], self._key("ip", found[0]))

    async def check(self, client: Client, email: str | None) -> None:
        """Raise `Banned` (403) if a ban in force matches this poster."""
        if self._rev < 0:
            await self.refresh()
        if not self._ends:
            return
        now = timestamp(self.clock())
        keys = (client.key, self.email_key(email) if email else None)
        ends = max((self._ends.get(key, "") for key in keys if key is not None), default="")
        if ends > now:
            until = "" if ends == FOREVER else f" until {_readable(ends)}"
            raise Banned(f"you are banned from commenting here{until}")

    async def refresh(self) -> None:
        """Read the bans in force again if any was made or lifted since the last reading."""
        rev = await self.store.bans.revision()
        if rev == self._rev:
            return
        ends: dict[bytes, str] = {}
        for ban in await self.store.bans.in_force(timestamp(self.clock())):
            for key in (ban.address_key, ban.email_key):
                if key is not None:
                    ends[key] = max(ends.get(key, ""), ban.expires or FOREVER)
        self._ends, self._rev = ends, rev

    async def watch(self, interval: float = POLL_SECONDS) -> None:
        """Keep the bans in force current with those other processes make or lift."""
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # a busy database: the next poll reads them
                log.warning("could not read the bans in force: %s", exc)
            await asyncio.sleep(interval)

    async def ban(self, source: Source, source_id: int, data: BanIn, actor: Actor) -> Ban:
        now = self.clock()
        expires = timestamp(now + timedelta(minutes=data.minutes)) if data.minutes else None
        note = actor.note("ban", now)
        ban = await self.store.bans.add(source, source_id, data, expires, self.email_key, note)
        await self.refresh()  # in force here from the next post on
        return ban

    async def lift(self, ban_id: int, actor: Actor) -> Ban:
        ban = await self.store.bans.lift(ban_id, actor.note("unban", self.clock()))
        await self.refresh()
        return ban

    async def search(
        self, text: str = "", everything: bool = False, before: int | None = None, limit: int = 100
    ) -> BanList:
        if not 1 <= limit <= LIST_MAX:
            raise Invalid(f"limit must be between 1 and {LIST_MAX}", "limit")
        text = text.strip()
        email_key = self.email_key(text) if "@" in text else None
        return await self.store.bans.search(
            timestamp(self.clock()),
            text=text,
            email_key=email_key,
            everything=everything,
            before=before,
            limit=limit,
        )

    async def sweep(self, interval: float = SWEEP_SECONDS) -> None:
        """Erase the networks kept with comments older than `client_address_days`, hourly."""
        while True:
            try:
                erased = await self.erase_old_networks()
                if erased:
                    log.info("erased the network of %d comments past the retention", erased)
            except Exception as exc:  # a busy database: the next sweep does it
                log.warning("could not erase old networks: %s", exc)
            await asyncio.sleep(interval)

    async def erase_old_networks(self) -> int:
        cutoff = self.clock() - timedelta(days=self.settings.client_address_days)
        return await self.store.bans.erase_networks(timestamp(cutoff))


def _readable(moment: str) -> str:
    """2026-12-01T10:00:00.000Z as "2026-12-01 10:00 UTC"."""
    return moment[:16].replace("T", " ") + " UTC"
