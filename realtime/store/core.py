"""The Store: the one interface the service, the hubs and the tools use, whatever the database.

Reads run on the backend's read connections (SQLite's WAL lets them proceed while the writer
commits). Every write goes through `GroupCommitWriter`, so an article's published `count`
changes in the same transaction as the comment it counts. The SQL is written once (see `db.py`);
the backend, chosen by `Store.open`'s URL, brings the connections, schema and transactions.
Methods return Structs, never rows, and raise domain errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from realtime.config import Settings
from realtime.errors import NotFound, Unavailable
from realtime.models import Article, ArticleIn, AuditPage, Comment, PendingComment
from realtime.store import audit, moderation, notices, threads, votes
from realtime.store.audit import Note
from realtime.store.backends import open_backend
from realtime.store.bans import BanStore
from realtime.store.db import Backend, Tx, scalar
from realtime.store.group_commit import GroupCommitWriter, OnCommit, Work
from realtime.store.moderators import ModeratorStore
from realtime.store.notices import Rules
from realtime.store.outbox import Outbox
from realtime.store.privacy import PrivacyStore
from realtime.store.results import (
    COMMENT_COLUMNS,
    NEXT_REV,
    Authorship,
    Change,
    Edited,
    NewComment,
    Posted,
    Removed,
)
from realtime.store.rows import ARTICLE_COLUMNS as _ARTICLE_COLUMNS
from realtime.store.rows import article_from, comment_from
from realtime.store.threads import Key, Sort
from realtime.store.votes import Pinned, Tally

# The comment's columns, each prefixed with its table (for a join).
_PREFIXED_COLUMNS = ", ".join(f"comments.{name}" for name in COMMENT_COLUMNS.split(", "))
T = TypeVar("T")


class Store:
    def __init__(self, backend: Backend, group_commit_max: int) -> None:
        self.backend = backend
        self.writer = GroupCommitWriter(backend, group_commit_max)
        self.avatar_key = b""
        self.ban_key = b""  # keys the hashes of networks and e-mails that bans match
        self.moderators = ModeratorStore(backend, self.writer)
        self.bans = BanStore(backend, self.writer)
        self.privacy = PrivacyStore(backend, self.writer, lambda: self.rules)
        self.notify_key = b""
        self.delivery_prefix = ""
        # What changes write to the outbox (empty: nothing), and who to tell that they did.
        self.rules = Rules()
        self.outbox = Outbox(self.writer, backend)
        self.on_outbox: Callable[[], None] = lambda: None

    @classmethod
    async def open(
        cls,
        url: str | Path,
        *,
        group_commit_max: int = 256,
        busy_timeout_ms: int = 5000,
        pool_size: int = 10,
    ) -> Store:
        """The database named by `url` (a path, `sqlite:PATH` or `postgresql://…`), migrated to
        the newest schema."""
        backend = await open_backend(url, busy_timeout_ms=busy_timeout_ms, pool_size=pool_size)
        store = cls(backend, group_commit_max)
        try:
            store.avatar_key = bytes.fromhex(await store._meta("avatar_key"))
            store.ban_key = bytes.fromhex(await store._meta("ban_key"))
            store.notify_key = bytes.fromhex(await store._meta("notify_key"))
            store.delivery_prefix = await store._meta("delivery_prefix")
        except BaseException:
            await backend.close()
            raise
        store.writer.start()
        return store

    @classmethod
    async def from_settings(cls, settings: Settings) -> Store:
        return await cls.open(
            settings.db,
            group_commit_max=settings.group_commit_max,
            busy_timeout_ms=settings.busy_timeout_ms,
            pool_size=settings.db_pool_size,
        )

    async def close(self) -> None:
        await self.writer.stop()
        await self.backend.close()

    # ---- reads -------------------------------------------------------------------------------

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        try:
            return await self.backend.reader().one(sql, params)
        except self.backend.unavailable as exc:
            raise Unavailable(f"the database cannot be read right now ({exc})") from exc

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return await self.backend.reader().all(sql, params)
        except self.backend.unavailable as exc:
            raise Unavailable(f"the database cannot be read right now ({exc})") from exc

    async def _meta(self, key: str) -> str:
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row[0])

    async def ping(self) -> None:
        """The database answers, and can still be trusted with a commit (`Backend.check`)."""
        await self._one("SELECT 1")
        self.backend.check()

    async def get_article(self, slug: str) -> Article | None:
        row = await self._one(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE slug = ?", (slug,))
        return article_from(row) if row else None

    async def list_articles(self) -> list[Article]:
        rows = await self._all(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY created DESC, slug"
        )
        return [article_from(row) for row in rows]

    async def counts(self, slugs: list[str]) -> dict[str, int]:
        marks = ",".join("?" * len(slugs))
        rows = await self._all(
            f"SELECT slug, count FROM articles WHERE slug IN ({marks})", tuple(slugs)
        )
        found = dict(rows)
        return {slug: found.get(slug, 0) for slug in slugs}

    async def comments_after(self, slug: str, after: int, limit: int) -> list[Comment]:
        rows = await self._all(
            f"SELECT {COMMENT_COLUMNS} FROM comments"
            " WHERE article = ? AND id > ? AND status = 'published' ORDER BY id LIMIT ?",
            (slug, after, limit),
        )
        return [comment_from(row) for row in rows]

    async def last_comment_id(self, slug: str) -> int | None:
        row = await self._one(
            "SELECT max(id) FROM comments WHERE article = ? AND status = 'published'", (slug,)
        )
        return int(row[0]) if row and row[0] is not None else None

    async def highest_id(self) -> int:
        """The highest committed comment id, whatever its status; 0 if none. With one writer at
        a time, every smaller id is committed too, or never will be."""
        row = await self._one("SELECT coalesce(max(id), 0) FROM comments")
        return int(row[0]) if row else 0

    async def published_between(self, first: int, last: int) -> list[Posted]:
        """The published comments with ids in [first, last], oldest first, each with its
        article's count up to it: the count now less the published comments after it. (With
        the count now, a comment read back late would carry a count above that of the comments
        released after it: a reader would see the count step back.) One pass over the ids past
        `last`, however many of them, not one per row."""
        rows = await self._all(
            "WITH later AS (SELECT article, count(*) AS n FROM comments"
            " WHERE id > ? AND status = 'published' GROUP BY article)"
            f" SELECT {_PREFIXED_COLUMNS}, articles.count - coalesce(later.n, 0) + 1"
            "  - count(*) OVER (PARTITION BY comments.article ORDER BY comments.id DESC)"
            " FROM comments JOIN articles ON articles.slug = comments.article"
            " LEFT JOIN later ON later.article = comments.article"
            " WHERE comments.id BETWEEN ? AND ? AND comments.status = 'published'"
            " ORDER BY comments.id",
            (last, first, last),
        )
        return [Posted(comment_from(row), int(row[-1])) for row in rows]

    async def last_rev(self, slug: str) -> int:
        """The newest change (edit or deletion) of the article's comments; 0 if none."""
        row = await self._one(
            "SELECT max(rev) FROM comments WHERE article = ? AND rev > 0", (slug,)
        )
        return int(row[0]) if row and row[0] is not None else 0

    async def changes(
        self, slug: str, revs: tuple[int, int], upto_id: int, limit: int
    ) -> list[Change]:
        """Edits and deletions with `revs[0] < rev <= revs[1]` of comments up to `upto_id`,
        oldest first."""
        rows = await self._all(
            f"SELECT {COMMENT_COLUMNS}, status, rev FROM comments"
            " WHERE article = ? AND rev > ? AND rev <= ? AND id <= ? ORDER BY rev LIMIT ?",
            (slug, *revs, upto_id, limit),
        )
        return [
            Change(row[0], row[-1], comment_from(row) if row[-2] == "published" else None)
            for row in rows
        ]

    async def get_comment(self, comment_id: int) -> Comment | None:
        row = await self._one(
            f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ? AND status = 'published'",
            (comment_id,),
        )
        return comment_from(row) if row else None

    async def authorship(self, comment_id: int) -> Authorship | None:
        row = await self._one(
            "SELECT id, article, created, token_hash, status = 'published' FROM comments"
            " WHERE id = ?",
            (comment_id,),
        )
        if row is None:
            return None
        comment_id, article, created, token_hash, published = row
        return Authorship(comment_id, article, created, token_hash, bool(published))

    # ---- writes (group commit) ---------------------------------------------------------------

    async def put_article(self, slug: str, data: ArticleIn, created: str) -> tuple[Article, bool]:
        async def work(tx: Tx) -> tuple[Article, bool]:
            existed = await scalar(tx, "SELECT 1 FROM articles WHERE slug = ?", (slug,))
            row = await tx.one(
                "INSERT INTO articles (slug, title, url, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (slug) DO UPDATE SET title = excluded.title, url = excluded.url"
                f" RETURNING {_ARTICLE_COLUMNS}",
                (slug, data.title, data.url, created),
            )
            assert row is not None  # an upsert always returns its row
            return article_from(row), existed is None

        return await self.writer.submit(work)

    async def add_comment(
        self, new: NewComment, on_commit: OnCommit[Posted] | None = None
    ) -> Posted:
        async def work(tx: Tx) -> Posted:
            count = await scalar(
                tx,
                "UPDATE articles SET count = count + 1 WHERE slug = ? AND NOT closed"
                " RETURNING count",
                (new.article,),
            )
            if count is None:
                await moderation.check_open(tx, new.article)  # raises: unknown, or closed
                raise NotFound(f"no article {new.article!r}")
            if new.parent is not None:
                await moderation.check_parent(tx, new.parent, new.article)
            comment_id = await scalar(
                tx,
                f"INSERT INTO comments ({moderation.NEW_COLUMNS})"
                f" VALUES ({moderation.NEW_MARKS}) RETURNING id",
                msgspec.structs.astuple(new),
            )
            comment = Comment(
                comment_id,
                new.article,
                new.parent,
                new.author,
                new.avatar,
                new.body,
                new.created,
                None,
                new.html,
            )
            sender = (new.email, new.notify)
            await notices.published(tx, self.rules, (comment, count), sender, time.time())
            return Posted(comment, count)

        return await self._notifying(work, on_commit)

    async def edit_comment(
        self,
        comment_id: int,
        text: tuple[str, str, str],
        edited: str,
        on_commit: OnCommit[Edited] | None = None,
        note: Note | None = None,
    ) -> Edited:
        """`text` is the new (body, html, format)."""

        async def work(tx: Tx) -> Edited:
            row = await tx.one(
                "UPDATE comments SET body = ?, html = ?, format = ?, edited = ?,"
                f" rev = ({NEXT_REV}) WHERE id = ? AND status = 'published'"
                f" RETURNING {COMMENT_COLUMNS}, rev",
                (*text, edited, comment_id),
            )
            if row is None:
                raise NotFound(f"no comment {comment_id}")
            comment, rev = comment_from(row), int(row[-1])
            await audit.record(tx, note, article=comment.article, comment=comment_id)
            await notices.edited(tx, self.rules, comment, rev, time.time())
            return Edited(comment, rev)

        return await self._notifying(work, on_commit)

    async def delete_comment(
        self,
        comment_id: int,
        on_commit: OnCommit[Removed] | None = None,
        note: Note | None = None,
    ) -> Removed:
        """Soft delete: replies keep their parent id; the text and e-mail are scrubbed."""

        async def work(tx: Tx) -> Removed:
            row = await tx.one(
                "UPDATE comments SET status = 'deleted', body = '', html = '', email = NULL,"
                f" rev = ({NEXT_REV}) WHERE id = ? AND status = 'published'"
                " RETURNING article, rev",
                (comment_id,),
            )
            if row is None:
                raise NotFound(f"no comment {comment_id}")
            article, rev = row
            count = await scalar(
                tx,
                "UPDATE articles SET count = count - 1 WHERE slug = ? RETURNING count",
                (article,),
            )
            await audit.record(tx, note, article=article, comment=comment_id)
            removed = Removed(comment_id, article, int(count), int(rev))
            change = (article, comment_id, removed.count, removed.rev)
            await notices.deleted(tx, self.rules, change, time.time())
            return removed

        return await self._notifying(work, on_commit)

    # ---- moderation ------------------------------------------------------------------------

    async def has_approved(self, email: str | None, author: str) -> bool:
        """Whether this e-mail (or, without one, this name) has a published comment."""
        if email is not None:
            sql, key = "SELECT 1 FROM comments WHERE email = ? AND status = 'published'", email
        else:
            sql = (
                "SELECT 1 FROM comments WHERE email IS NULL AND author = ? AND status = 'published'"
            )
            key = author
        return await self._one(sql + " LIMIT 1", (key,)) is not None

    async def pending(self, slug: str | None = None) -> list[PendingComment]:
        where, params = ("WHERE article = ?", (slug,)) if slug else ("", ())
        rows = await self._all(
            f"SELECT {moderation.PENDING_COLUMNS} FROM pending {where} ORDER BY id", params
        )
        return [PendingComment(*row) for row in rows]

    async def hold_comment(
        self, new: NewComment, reason: str, on_commit: OnCommit[PendingComment] | None = None
    ) -> PendingComment:
        async def work(tx: Tx) -> PendingComment:
            held = await moderation.hold(tx, new, reason)
            await notices.held(tx, self.rules, held, time.time())
            return held

        return await self._notifying(work, on_commit)

    async def approve(
        self, pending_id: int, on_commit: OnCommit[Posted] | None = None, note: Note | None = None
    ) -> Posted:
        async def work(tx: Tx) -> Posted:
            comment, count, sender = await moderation.approve(tx, pending_id)
            await audit.record(
                tx, note, article=comment.article, comment=comment.id, pending=pending_id
            )
            await notices.published(tx, self.rules, (comment, count), sender, time.time())
            return Posted(comment, count)

        return await self._notifying(work, on_commit)

    async def reject(
        self, pending_id: int, on_commit: OnCommit[None] | None = None, note: Note | None = None
    ) -> None:
        async def work(tx: Tx) -> None:
            article = await moderation.reject(tx, pending_id)
            await audit.record(tx, note, article=article, pending=pending_id)

        await self.writer.submit(work, on_commit)

    async def set_closed(
        self,
        slug: str,
        closed: bool,
        on_commit: OnCommit[Article] | None = None,
        note: Note | None = None,
    ) -> Article:
        async def work(tx: Tx) -> Article:
            article = await moderation.set_closed(tx, slug, closed)
            await audit.record(tx, note, article=slug)
            if closed:
                await notices.closed(tx, self.rules, slug, time.time())
            return article

        return await self._notifying(work, on_commit)

    async def audit_page(self, before: int | None, limit: int) -> AuditPage:
        """The audit trail, newest first (`before`: the id a page starts below)."""
        return await audit.page(self.backend.reader(), before, limit)

    async def set_subscription(self, subscriber_id: int, state: str) -> bool:
        """Confirm or unsubscribe an address (by its subscriber id); False if that cannot be."""
        return await self.writer.submit(
            lambda tx: notices.set_subscription(tx, subscriber_id, state)
        )

    # ---- votes and pins ----------------------------------------------------------------------

    async def vote(
        self, comment_id: int, voter: bytes, value: int, on_commit: OnCommit[Tally] | None = None
    ) -> Tally:
        return await self.writer.submit(
            lambda tx: votes.vote(tx, comment_id, voter, value), on_commit
        )

    async def set_pinned(
        self,
        comment_id: int,
        pinned: bool,
        on_commit: OnCommit[Pinned] | None = None,
        note: Note | None = None,
    ) -> Pinned:
        async def work(tx: Tx) -> Pinned:
            done = await votes.set_pinned(tx, comment_id, pinned)
            await audit.record(tx, note, article=done.comment.article, comment=comment_id)
            return done

        return await self.writer.submit(work, on_commit)

    # ---- sorted threads, recent comments -----------------------------------------------------

    async def thread_page(
        self, slug: str, sort: Sort, key: Key | None, backward: bool, limit: int
    ) -> list[Comment]:
        """Roots in `sort` order (see `threads`), without their replies; the pinned ones first
        when `key` is None (the first page)."""
        reader = self.backend.reader()
        pinned = await threads.pinned_roots(reader, slug, sort) if key is None else []
        return pinned + await threads.roots(reader, slug, sort, key, backward, limit)

    async def with_replies(self, roots: list[Comment]) -> list[Comment]:
        return await threads.with_replies(self.backend.reader(), roots)

    async def recent(self, limit: int, slug: str | None = None) -> list[Comment]:
        return await threads.recent(self.backend.reader(), limit, slug)

    async def render_missing(self, render: Callable[[str, str], str], batch: int = 500) -> int:
        """Make the HTML of comments (published and held) stored before migration 5; returns how
        many were made."""
        made = 0
        for table in ("comments", "pending"):
            while rows := await threads.html_missing(self.backend.reader(), table, batch):
                values = [(render(body, fmt), comment_id) for comment_id, body, fmt in rows]
                sql = f"UPDATE {table} SET html = ? WHERE id = ? AND html IS NULL"

                async def work(tx: Tx, sql: str = sql, values: list[Any] = values) -> None:
                    await tx.run_many(sql, values)

                await self.writer.submit(work)
                made += len(rows)
        return made

    async def _notifying(self, work: Work[T], on_commit: OnCommit[T] | None) -> T:
        """Submit a write that may have added to the outbox, and wake the sender after it."""
        result = await self.writer.submit(work, on_commit)
        self.on_outbox()
        return result
