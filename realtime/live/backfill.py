"""What a networked hub reads back from the store when events went missing on the way.

A process that took no part in a commit learns of it from Redis. When Redis loses an event (it was
down, or a link broke) or an id is never published (a comment held for moderation), the hub asks
the store instead: `StoreBackfill` answers with the same events the service publishes after a
commit, built from the rows as they are now (the `count` is the article's current count).

It uses the Store's public reads only. `last_id` costs one query per article, and `published` one
per id: fine for catching up after an outage; a `Store` method for each (`max(id)`, and one range
query) would make both a single query.
"""

from __future__ import annotations

import msgspec

from realtime.live.hub import Message
from realtime.models import CommentEvent, CountEvent
from realtime.store import Store
from realtime.topics import article_topic, count_topic

_encode = msgspec.json.Encoder().encode


class StoreBackfill:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def last_id(self) -> int:
        """The highest published comment id: every smaller id is committed, or never will be."""
        last = 0
        for article in await self._store.list_articles():
            found = await self._store.last_comment_id(article.slug)
            last = max(last, found or 0)
        return last

    async def published(self, first: int, last: int) -> dict[int, list[tuple[str, Message]]]:
        found: dict[int, list[tuple[str, Message]]] = {}
        counts: dict[str, int] = {}
        for comment_id in range(first, last + 1):
            comment = await self._store.get_comment(comment_id)
            if comment is None:
                continue  # held for moderation, deleted, or never committed
            slug = comment.article
            if slug not in counts:
                counts[slug] = (await self._store.counts([slug]))[slug]
            event = _encode(CommentEvent(comment=comment, count=counts[slug]))
            count = _encode(CountEvent(article=slug, count=counts[slug]))
            found[comment_id] = [
                (article_topic(slug), Message.of(event, comment_id)),
                (count_topic(slug), Message.of(count)),
            ]
        return found
