"""Who is acting: the owner (the `admin_token` setting) or a named moderator, by bearer token.

A moderator's token is 32 random bytes shown once when the moderator is added; only its SHA-256
is stored. Every HTTP request looks the token up, so a revoked token is refused (401) at once, in
every process. An open `/ws/admin` is a session: the server polls the moderators' revision
number (one indexed read a second) and closes the sessions of anyone revoked since with 4403.
Polling, rather than the command line telling the running server, because `realtime moderator
revoke` works on the database alone: it needs no server URL or owner token, reaches every
process of a `--workers` server and every server on a shared file, and works while the server
is down.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime

import msgspec

from realtime.config import Settings
from realtime.errors import Forbidden, Invalid, Unauthorized
from realtime.models import AuditPage, ModeratorInfo, timestamp
from realtime.store import Store
from realtime.store.audit import Note

log = logging.getLogger("realtime.moderators")
POLL_SECONDS = 1.0
AUDIT_PAGE_MAX = 500
OWNER = "owner"
COMMAND_LINE = "cli"
_NAME = re.compile(r"^[\w.@+-]{1,64}$")


class Actor(msgspec.Struct, frozen=True):
    """The owner (moderator None) or a moderator, as the audit trail names them."""

    name: str
    moderator: int | None = None

    @property
    def is_owner(self) -> bool:
        return self.moderator is None and self.name == OWNER

    def note(self, action: str, at: datetime, detail: str = "") -> Note:
        return Note(
            actor=self.name,
            moderator=self.moderator,
            action=action,
            at=timestamp(at),
            detail=detail,
        )


OWNER_ACTOR = Actor(OWNER)
CLI_ACTOR = Actor(COMMAND_LINE)
# The approve and reject links of a moderator alert mail: the signature is the permission, and
# the same link goes to every address in `moderator_emails`, so no one person is known.
MAIL_LINK_ACTOR = Actor("mail-link")


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Moderators:
    def __init__(self, settings: Settings, store: Store, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        # Open /ws/admin sessions: moderator id -> the events that end them.
        self._sessions: dict[int, set[asyncio.Event]] = {}
        self._seen_rev = 0

    # ---- the command line -----------------------------------------------------------------

    async def add(self, name: str, actor: Actor = CLI_ACTOR) -> tuple[ModeratorInfo, str]:
        """A new moderator and their token (shown once: only its hash is kept)."""
        if not _NAME.fullmatch(name) or name in (OWNER, COMMAND_LINE):
            raise Invalid(
                "a moderator's name is 1-64 letters, digits and . _ @ + -"
                f" (not {OWNER!r} or {COMMAND_LINE!r})",
                "name",
            )
        token = secrets.token_urlsafe(32)
        now = self.clock()
        info = await self.store.moderators.add(
            name, hash_token(token), timestamp(now), actor.note("moderator-add", now)
        )
        return info, token

    async def revoke(self, name: str, actor: Actor = CLI_ACTOR) -> ModeratorInfo:
        now = self.clock()
        return await self.store.moderators.revoke(
            name, timestamp(now), actor.note("moderator-revoke", now)
        )

    async def roster(self) -> list[ModeratorInfo]:
        return await self.store.moderators.all()

    async def audit(self, before: int | None, limit: int) -> AuditPage:
        if not 1 <= limit <= AUDIT_PAGE_MAX:
            raise Invalid(f"limit must be between 1 and {AUDIT_PAGE_MAX}", "limit")
        return await self.store.audit_page(before, limit)

    # ---- tokens ---------------------------------------------------------------------------

    async def identify(self, bearer: str) -> Actor | None:
        """The owner or an active moderator; None for a token that is neither; 401 if revoked."""
        owner = self.settings.admin_token
        if owner and hmac.compare_digest(bearer.encode(), owner.encode()):
            return OWNER_ACTOR
        found = await self.store.moderators.find(hash_token(bearer))
        if found is None:
            return None
        if found.revoked:
            raise Unauthorized("this moderator's token was revoked")
        return Actor(found.name, found.id)

    async def authenticate(self, bearer: str | None) -> Actor:
        """The owner or an active moderator; 401 without a token or with a revoked one."""
        if bearer is None:
            raise Unauthorized("an admin or moderator token is required")
        actor = await self.identify(bearer)
        if actor is None:
            if not self.settings.admin_token:
                raise Forbidden("not a moderator's token (and no admin token is configured)")
            raise Forbidden("not the admin token or a moderator's token")
        return actor

    async def owner(self, bearer: str | None) -> Actor:
        """Only the owner's token: for what moderators may not do (articles, a person's data)."""
        if bearer is None:
            raise Unauthorized("the admin token is required")
        actor = await self.identify(bearer)
        if actor is None:
            raise Forbidden("not the admin token")
        if not actor.is_owner:
            raise Forbidden("only the admin token may do this, not a moderator's")
        return actor

    # ---- live sessions --------------------------------------------------------------------

    async def open_session(self, actor: Actor) -> asyncio.Event:
        """An event set when the actor's token is revoked (never, for the owner)."""
        ended = asyncio.Event()
        if actor.moderator is None:
            return ended
        self._sessions.setdefault(actor.moderator, set()).add(ended)
        # Revoked between the token check and now? The watcher may have looked already.
        if not await self.store.moderators.active(actor.moderator):
            ended.set()
        return ended

    def close_session(self, actor: Actor, ended: asyncio.Event) -> None:
        if actor.moderator is None:
            return
        sessions = self._sessions.get(actor.moderator, set())
        sessions.discard(ended)
        if not sessions:
            self._sessions.pop(actor.moderator, None)

    async def watch(self, interval: float = POLL_SECONDS) -> None:
        """End the sessions of revoked moderators, whichever process revoked them."""
        self._seen_rev = await self.store.moderators.revision()
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check_revoked()
            except Exception as exc:  # a busy database must not end the watch
                log.warning("could not check for revoked moderators: %s", exc)

    async def check_revoked(self) -> None:
        rev = await self.store.moderators.revision()
        if rev == self._seen_rev:
            return
        revoked = await self.store.moderators.revoked_since(self._seen_rev)
        self._seen_rev = rev
        for moderator in revoked:
            for ended in self._sessions.get(moderator, set()):
                ended.set()
