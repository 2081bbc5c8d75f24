"""Domain rules: who may do what, bounds from the settings, and what is published after a commit.

Takes and returns Structs, raises `AppError`s; knows nothing of HTTP or WebSockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec

from realtime.config import Settings
from realtime.errors import Forbidden, Invalid, NotFound, RefusedWord, Unauthorized
from realtime.formatting import render, render_stored
from realtime.limits import RepeatGuard, SocketCounter, TokenBucket
from realtime.live.hub import Hub, Message
from realtime.models import (
    COUNTS_MAX,
    PAGE_MAX,
    RECENT_MAX,
    SLUG_PATTERN,
    Article,
    ArticleIn,
    Comment,
    CommentCreated,
    CommentEdit,
    CommentEvent,
    CommentIn,
    CommentPage,
    CountEvent,
    DeleteEvent,
    EditEvent,
    Preview,
    RecentList,
    SortedPage,
    WatchersEvent,
    timestamp,
)
from realtime.moderation import Moderation
from realtime.moderators import (
    Actor,
    Bans,
    Client,
    Moderators,
    Privacy,
    Publishers,
    WordRules,
    hash_token,
)
from realtime.notify import Links, Notifier
from realtime.sorting import parse_sort, sorted_page, start_of
from realtime.store import Edited, NewComment, Posted, Removed, Store
from realtime.topics import article_topic, count_topic
from realtime.votes import Votes

log = logging.getLogger("realtime.events")
_encode = msgspec.json.Encoder().encode
_slug_re = re.compile(SLUG_PATTERN)

Clock = Callable[[], datetime]
# The one answer to a token that may not change a comment, whether the comment exists or not.
NOT_YOURS = "this token does not allow changing that comment"


def is_slug(text: str) -> bool:
    return _slug_re.fullmatch(text) is not None


def slug_list(raw: str) -> list[str]:
    """`a,b,c` (as in `?articles=`) as distinct slugs, at most COUNTS_MAX, all well formed."""
    slugs = list(dict.fromkeys(part for part in raw.split(",") if part))
    if len(slugs) > COUNTS_MAX:
        raise Invalid(f"at most {COUNTS_MAX} articles per request", "articles")
    bad = next((slug for slug in slugs if not is_slug(slug)), None)
    if bad is not None:
        raise Invalid(f"{bad[:40]!r} is not an article slug", "articles")
    return slugs


class CommentService:
    def __init__(
        self, settings: Settings, store: Store, hub: Hub, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.clock = clock
        self.bucket = TokenBucket(settings.comments_per_minute, settings.comment_burst)
        self.repeats = RepeatGuard()
        self.comments_posted = 0
        per_client = settings.max_readers_per_client if settings.rate_limit == "on" else None
        self.sockets = SocketCounter(settings.max_readers, per_client)
        self.words = WordRules(settings.hold_words, settings.refuse_words)
        self.moderators = Moderators(settings, store, clock)
        self.bans = Bans(settings, store, clock)
        self.moderation = Moderation(settings, store, hub, self._publish_posted, clock)
        self.moderation.words = self.words
        self.privacy = Privacy(
            store,
            self.bans,
            self.avatar,
            clock,
            Publishers(self._publish_edited, self._publish_removed, self.moderation.dropped),
        )
        self.votes = Votes(settings, store, hub)
        self.notifier = Notifier(settings, store)  # started by the app's lifespan
        self.links = Links(store, self.moderation)
        store.writer.settle_scope = hub.batch

    async def render_missing(self) -> int:
        """Make the HTML of comments stored before formatting existed (once, at start)."""
        made = await self.store.render_missing(render_stored)
        if made:
            log.info("made the HTML of %d comments stored before formatting", made)
        return made

    # ---- articles ----------------------------------------------------------------------------

    async def put_article(self, slug: str, data: ArticleIn) -> tuple[Article, bool]:
        """Create or retitle an article; callers check admin rights first (`require_admin`)."""
        if not is_slug(slug):
            raise Invalid(
                "slug must be 1-128 of a-z, 0-9 and '-', starting with a letter or digit", "slug"
            )
        title = data.title.strip()
        if not title:
            raise Invalid("must not be blank", "title")
        article, created = await self.store.put_article(
            slug, ArticleIn(title=title, url=data.url), timestamp(self.clock())
        )
        log.info("article %s slug=%s", "created" if created else "updated", slug)
        return article, created

    async def article(self, slug: str) -> Article:
        found = await self.store.get_article(slug) if is_slug(slug) else None
        if found is None:
            raise NotFound(f"no article {slug!r}")
        return found

    async def articles(self) -> list[Article]:
        return await self.store.list_articles()

    async def counts(self, slugs: list[str]) -> dict[str, int]:
        return await self.store.counts(slugs) if slugs else {}

    # ---- comments: reading -------------------------------------------------------------------

    async def page(self, slug: str, after: int, limit: int) -> CommentPage:
        if not 1 <= limit <= PAGE_MAX:
            raise Invalid(f"limit must be between 1 and {PAGE_MAX}", "limit")
        if after < 0:
            raise Invalid("after must be a comment id (0 or more)", "after")
        article = await self.article(slug)
        rev = await self.store.last_rev(slug)  # before the rows: changes after it are newer
        rows = await self.store.comments_after(slug, after, limit + 1)
        more = len(rows) > limit
        comments = rows[:limit]
        return CommentPage(slug, article.count, comments, comments[-1].id if more else None, rev)

    async def sorted_page(
        self,
        slug: str,
        sort: str | None,
        ids: tuple[int | None, int | None],
        cursor: str | None,
        limit: int,
    ) -> SortedPage:
        """A page of threads in `sort` order; `ids` are the `after` and `before` parameters."""
        order = parse_sort(sort)
        article = await self.article(slug)
        start = await start_of(self.store, order, ids, cursor)
        return await sorted_page(self.store, article, start, limit)

    async def recent(self, limit: int) -> RecentList:
        """The site's newest published comments, newest first, with their articles' titles."""
        if not 1 <= limit <= RECENT_MAX:
            raise Invalid(f"limit must be between 1 and {RECENT_MAX}", "limit")
        comments = await self.store.recent(limit)
        articles = {comment.article for comment in comments}
        titles = {a.slug: a.title for a in await self.store.list_articles() if a.slug in articles}
        return RecentList(comments, titles)

    def preview(self, body: str) -> Preview:
        """The HTML a comment with this body would get (the form's live preview). Bounded by the
        model's BODY_MAX only: a draft over the site's own limit is told so when it is posted."""
        return Preview(render(body, self.settings.format))

    async def comment(self, comment_id: int) -> Comment:
        found = await self.store.get_comment(comment_id)
        if found is None:
            raise NotFound(f"no comment {comment_id}")
        return found

    # ---- comments: writing -------------------------------------------------------------------

    async def post(self, slug: str, data: CommentIn, client: str | None = None) -> CommentCreated:
        """Publish it or hold it for moderation; a `client` address is subject to the limits."""
        if not is_slug(slug):
            raise NotFound(f"no article {slug!r}")
        new = self._new_comment(slug, data)
        self._refuse_words(author=new.author, body=new.body)
        if client is not None and self.settings.rate_limit == "on":
            self.repeats.check(client, new.body)
            self.bucket.take(client)
        poster = self.bans.client(client)
        await self.bans.check(poster, new.email)
        token = secrets.token_urlsafe(32)
        new = msgspec.structs.replace(new, token_hash=hash_token(token), **self._kept(poster))
        reason = await self.moderation.hold_reason(new, data.website)
        status: Literal["published", "pending"]
        if reason is None:
            posted = await self.store.add_comment(new, on_commit=self._publish_posted)
            comment, status = posted.comment, "published"
        else:
            held = await self.moderation.hold(new, reason)
            comment = Comment(
                held.id,
                slug,
                held.parent,
                held.author,
                held.avatar,
                held.body,
                held.created,
                None,
                new.html,
            )
            status = "pending"
        self.comments_posted += 1
        if client is not None:
            self.repeats.remember(client, new.body)
        log.info(
            "comment %s id=%d article=%s parent=%s chars=%d",
            status,
            comment.id,
            slug,
            data.parent,
            len(new.body),
        )
        return CommentCreated(comment, token, status)

    def _refuse_words(self, **fields: str) -> None:
        for field, text in fields.items():
            word = self.words.refuse.find(text)
            if word is not None:
                what = "your name" if field == "author" else "your comment"
                raise RefusedWord(
                    f"{what} contains “{word}”, which this site does not accept"
                    " (rule: refuse_words)",
                    field,
                    word,
                )

    def _kept(self, poster: Client) -> dict[str, str | bytes | None]:
        """What the comment keeps of its poster's network, for bans (none if kept no days)."""
        if self.settings.client_address_days == 0:
            return {}
        return {"client_prefix": poster.prefix, "client_key": poster.key}

    def reload_words(self, settings: Settings) -> WordRules:
        """New word lists from reloaded settings (the rest of the settings needs a restart)."""
        self.words = self.moderation.words = WordRules(settings.hold_words, settings.refuse_words)
        log.info(
            "word lists reloaded: %d hold, %d refuse",
            len(self.words.hold.entries),
            len(self.words.refuse.entries),
        )
        return self.words

    def _new_comment(self, slug: str, data: CommentIn) -> NewComment:
        author = self._bounded(data.author, "author", self.settings.author_max_chars)
        body = self._bounded(data.body, "body", self.settings.body_max_chars)
        email = data.email.strip().lower() if data.email else None
        if email is not None and len(email) > self.settings.email_max_chars:
            raise Invalid(f"must be at most {self.settings.email_max_chars} characters", "email")
        return NewComment(
            article=slug,
            parent=data.parent,
            author=author,
            email=email,
            avatar=self.avatar(email or author.lower()),
            body=body,
            created=timestamp(self.clock()),
            token_hash=b"",
            html=render(body, self.settings.format),
            format=self.settings.format,
            voter_hash=self.votes.hash(data.voter) if data.voter else None,
            notify=data.notify and email is not None,  # nowhere to send it without one
        )

    async def edit(self, comment_id: int, data: CommentEdit, bearer: str | None) -> Comment:
        actor = await self._authorize(comment_id, bearer)
        body = self._bounded(data.body, "body", self.settings.body_max_chars)
        if actor is None:
            self._refuse_words(body=body)  # an author's edit is screened like a new comment
        now = self.clock()
        fmt = self.settings.format
        edited = await self.store.edit_comment(
            comment_id,
            (body, render(body, fmt), fmt),
            timestamp(now),
            on_commit=self._publish_edited,
            note=actor.note("edit", now) if actor else None,
        )
        log.info("comment edited id=%d article=%s", comment_id, edited.comment.article)
        return edited.comment

    async def delete(self, comment_id: int, bearer: str | None) -> None:
        actor = await self._authorize(comment_id, bearer)
        note = actor.note("delete", self.clock()) if actor else None
        removed = await self.store.delete_comment(
            comment_id, on_commit=self._publish_removed, note=note
        )
        log.info("comment deleted id=%d article=%s", comment_id, removed.article)

    def avatar(self, identity: str) -> str:
        """Keyed with a per-database secret so the digest cannot be reversed to the e-mail."""
        return hmac.new(self.store.avatar_key, identity.encode(), hashlib.sha256).hexdigest()[:32]

    def _bounded(self, text: str, field: str, limit: int) -> str:
        stripped = text.strip()
        if not stripped:
            raise Invalid("must not be blank", field)
        if len(stripped) > limit:
            raise Invalid(f"must be at most {limit} characters", field)
        return stripped

    # ---- authorization -----------------------------------------------------------------------

    async def _authorize(self, comment_id: int, bearer: str | None) -> Actor | None:
        """The comment's author within the edit window (None), or a moderator (their Actor).
        The credentials first, then the comment: a token that is neither a moderator's nor this
        comment's author's gets the same 403 whether the id exists or not."""
        if bearer is None:
            raise Unauthorized("the comment's author token is required")
        owner = await self.store.authorship(comment_id)
        author = owner is not None and hmac.compare_digest(hash_token(bearer), owner.token_hash)
        actor = None if author else await self.moderators.identify(bearer)
        if not author and actor is None:
            raise Forbidden(NOT_YOURS)
        if owner is None or not owner.published:
            raise NotFound(f"no comment {comment_id}")  # to a moderator, or to its own author
        if actor is not None:
            return actor
        created = datetime.fromisoformat(owner.created)
        if self.clock() > created + timedelta(seconds=self.settings.edit_window_seconds):
            raise Forbidden("the edit window for this comment has closed")
        return None

    # ---- publishing after commit (called by the writer, in commit order) ---------------------

    def _publish_posted(self, posted: Posted) -> None:
        slug = posted.comment.article
        event = _encode(CommentEvent(comment=posted.comment, count=posted.count))
        self.hub.publish(article_topic(slug), Message.of(event, posted.comment.id))
        self._publish_count(slug, posted.count)

    def _publish_edited(self, edited: Edited) -> None:
        event = _encode(EditEvent(comment=edited.comment, rev=edited.rev))
        self.hub.publish(article_topic(edited.comment.article), Message.of(event, rev=edited.rev))

    def _publish_removed(self, removed: Removed) -> None:
        event = _encode(DeleteEvent(id=removed.id, count=removed.count, rev=removed.rev))
        self.hub.publish(article_topic(removed.article), Message.of(event, rev=removed.rev))
        self._publish_count(removed.article, removed.count)

    def _publish_count(self, slug: str, count: int) -> None:
        event = _encode(CountEvent(article=slug, count=count))
        self.hub.publish(count_topic(slug), Message.of(event))

    async def announce_watchers(self) -> None:
        """Every interval, tell each article whose reader count changed (throttles to ~1/s)."""
        while True:
            await asyncio.sleep(self.settings.watchers_interval_seconds)
            for topic in self.hub.take_changed():
                if topic.startswith("article:"):
                    count = self.hub.subscribers(topic)
                    if count:
                        self.hub.announce(topic, Message.of(_encode(WatchersEvent(count=count))))
