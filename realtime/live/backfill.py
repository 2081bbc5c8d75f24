"""What a networked hub reads back from the store when events went missing on the way.

A process that took no part in a commit learns of it from Redis. When Redis loses an event (it was
down, or a link broke) or an id is never published (a comment held for moderation), the hub asks
the store instead: `StoreBackfill` answers with the same events the service publishes after a
commit, built from the rows as they are now (the `count` is the article's current count).

Each answer is one query, on either store (`highest_id`, `published_between`).
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
        """The highest committed comment id: every smaller id is committed, or never will be."""
        return await self._store.highest_id()

    async def published(self, first: int, last: int) -> dict[int, list[tuple[str, Message]]]:
        found: dict[int, list[tuple[str, Message]]] = {}
        for posted in await self._store.published_between(first, last):
            comment, slug = posted.comment, posted.comment.article
            event = _encode(CommentEvent(comment=comment, count=posted.count))
            count = _encode(CountEvent(article=slug, count=posted.count))
            found[comment.id] = [
                (article_topic(slug), Message.of(event, comment.id)),
                (count_topic(slug), Message.of(count)),
            ]
        return found
