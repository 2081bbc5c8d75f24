"""Joining an article's live thread, for every transport (WebSocket, Server-Sent Events).

The order is the whole point, so it lives here once:

1. subscribe to the article's topic: from now on every published event waits in the backlog;
2. read the newest change number and comment id, and greet (`hello`);
3. replay what the reader asked for: the comments after `after`, then (with `rev`) the edits and
   deletions it missed of the comments it had;
4. `resume_after`: the backlog drops the comments the replay already sent (by id) and the
   changes it already sent (by change number), so the live stream goes on with no gap and no
   duplicate, also for comments committed while the replay ran.

`joined` is step 1 and `Join.greeting` steps 2 to 4: the transport sends each encoded event the
greeting yields (each with the reader's `Position` after it, which an SSE stream turns into the
event's `id:`), then serves the subscriber live.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import msgspec

from realtime.live.hub import Subscriber
from realtime.models import Article, CommentEvent, DeleteEvent, EditEvent, Hello
from realtime.service import CommentService
from realtime.topics import article_topic

REPLAY_PAGE = 500
# An integer query parameter has at most this many digits (SQLite's integers are 64-bit).
MAX_DIGITS = 18

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Position:
    """How far a reader has got: the newest comment id and the newest change number it has."""

    comment: int
    rev: int


# One event of the greeting, encoded, and the reader's position once it has that event.
Greeting = AsyncGenerator[tuple[bytes, Position], None]


def number(raw: str | None, name: str) -> int | None:
    """A non-negative integer parameter, None when absent; ValueError(name) if malformed."""
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > MAX_DIGITS:
        raise ValueError(name)
    return int(raw)


@asynccontextmanager
async def joined(
    svc: CommentService, article: Article, after: int | None, since: int | None
) -> AsyncIterator[Join]:
    """Step 1, subscribed for as long as the block runs; `Join.greeting` does steps 2 to 4."""
    join = Join.open(svc, article, after, since)
    try:
        yield join
    finally:
        join.close()


class Join:
    """A reader subscribed to an article: send it `greeting()`, then serve `subscriber` live.

    `joined` opens and closes it around a block; a reader served without a task of its own
    (`realtime.web.lean_ws`) calls `open` and, when it goes, `close`.
    """

    def __init__(
        self,
        svc: CommentService,
        article: Article,
        asked: tuple[int | None, int | None],
        subscriber: Subscriber,
    ) -> None:
        self._svc = svc
        self._article = article
        self._after, self._since = asked
        self.subscriber = subscriber
        self.position: Position | None = None  # set once the greeting is over

    @classmethod
    def open(
        cls, svc: CommentService, article: Article, after: int | None, since: int | None
    ) -> Join:
        """Step 1: subscribed from now on, until `close`."""
        subscriber = svc.hub.join([article_topic(article.slug)])
        return cls(svc, article, (after, since), subscriber)

    def close(self) -> None:
        self._svc.hub.leave(self.subscriber, [article_topic(self._article.slug)])

    async def greeting(self) -> Greeting:
        """Hello, then the replay; at its end the backlog drops what the replay sent."""
        svc, slug, after, since = self._svc, self._article.slug, self._after, self._since
        # Subscribed first, then read: anything committed from here on is in the backlog, and
        # anything the reads below already include is dropped from it by id (comments) or by
        # change number (edits and deletions, when they are replayed).
        rev = await svc.store.last_rev(slug)
        last = await svc.store.last_comment_id(slug)
        start = Position(last or 0 if after is None else after, rev if since is None else since)
        yield _encode(self._hello(last, rev)), start
        if after is None:
            self._resume(Position(last or 0, rev), 0)
            return
        seen = after
        async for event, position in _replay(svc, slug, start):
            seen = position.comment
            yield event, position
        if since is None:
            self._resume(Position(seen, rev), 0)
            return
        async for event, position in _replay_changes(svc, slug, (since, rev), seen, after):
            yield event, position
        self._resume(Position(seen, max(rev, since)), rev)

    def _hello(self, last: int | None, rev: int) -> Hello:
        article, topic = self._article, article_topic(self._article.slug)
        watchers = self._svc.hub.subscribers(topic)
        return Hello(
            article=article.slug,
            count=article.count,
            last=last,
            watchers=watchers,
            closed=article.closed,
            rev=rev,
        )

    def _resume(self, position: Position, seen_rev: int) -> None:
        self.subscriber.resume_after(position.comment, seen_rev)
        self.position = position


async def _replay(svc: CommentService, slug: str, start: Position) -> Greeting:
    """Every published comment with an id above `start.comment`, in id order."""
    seen = start.comment
    while True:
        page = await svc.store.comments_after(slug, seen, REPLAY_PAGE)
        if not page:
            return
        article = await svc.store.get_article(slug)
        count = article.count if article else 0
        for comment in page:
            event = _encode(CommentEvent(comment=comment, count=count))
            yield event, Position(comment.id, start.rev)
        seen = page[-1].id


async def _replay_changes(
    svc: CommentService, slug: str, revs: tuple[int, int], seen: int, upto_id: int
) -> Greeting:
    """The edits and deletions (rev in `revs`, half-open) of the comments the reader had."""
    since, until = revs
    while True:
        changes = await svc.store.changes(slug, (since, until), upto_id, REPLAY_PAGE)
        if not changes:
            return
        article = await svc.store.get_article(slug)
        count = article.count if article else 0
        for change in changes:
            event: EditEvent | DeleteEvent = (
                EditEvent(comment=change.comment, rev=change.rev)
                if change.comment is not None
                else DeleteEvent(id=change.id, count=count, rev=change.rev)
            )
            yield _encode(event), Position(seen, change.rev)
        since = changes[-1].rev
