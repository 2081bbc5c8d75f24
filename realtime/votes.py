"""Votes: who may vote on what, the per-client limit, and the coalesced `vote` events.

A voter is a random token the browser keeps; the server stores only an HMAC of it under the
database's secret, never sends it and never exports it. One vote per voter per comment: voting
again changes it, 0 takes it back. The client's address is subject to `votes_per_minute` (as
posting is to `comments_per_minute`). Nobody votes on their own comment: the voter token given
when posting is remembered (hashed) with the comment, and the comment's author token is refused
as well. After each commit the comment's new tally goes to the `Coalescer`, which publishes at
most `vote_events_per_second` events per comment, the last with the final score.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

from realtime.config import Settings
from realtime.errors import Forbidden, Invalid
from realtime.limits import TokenBucket
from realtime.live.coalesce import Coalescer
from realtime.live.hub import Hub, Message
from realtime.models import VoteEvent, VoteIn, VoteResult
from realtime.store import Store
from realtime.store.votes import Tally
from realtime.topics import article_topic

_encode = msgspec.json.Encoder().encode


def voter_hash(key: bytes, token: str) -> bytes:
    """The keyed hash a voter is stored as (not reversible, and not comparable across sites)."""
    return hmac.new(key, b"voter\0" + token.encode(), hashlib.sha256).digest()


class Votes:
    def __init__(self, settings: Settings, store: Store, hub: Hub) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.bucket = TokenBucket(settings.votes_per_minute, settings.vote_burst)
        self.events: Coalescer[int, Tally] = Coalescer(
            1.0 / settings.vote_events_per_second, self._publish
        )

    def hash(self, token: str) -> bytes:
        return voter_hash(self.store.avatar_key, token)

    async def vote(
        self, comment_id: int, data: VoteIn, client: str | None, author_hash: bytes | None
    ) -> VoteResult:
        """`author_hash`: the hash of the request's bearer token, if it sent one."""
        mode = self.settings.votes
        if mode == "off":
            raise Forbidden("votes are off on this site")
        if mode == "up" and data.value == -1:
            raise Invalid("only up votes are taken here", "value")
        if author_hash is not None:  # a bearer token came with the vote: is it the author's?
            owner = await self.store.authorship(comment_id)
            if owner is not None and owner.token_hash == author_hash:
                raise Forbidden("you cannot vote on your own comment")
        if client is not None and self.settings.rate_limit == "on":
            self.bucket.take(client)
        tally = await self.store.vote(
            comment_id, self.hash(data.voter), data.value, on_commit=self._committed
        )
        return VoteResult(tally.id, tally.score, tally.up, tally.down)

    def _committed(self, tally: Tally) -> None:
        if tally.changed:
            self.events.offer(tally.id, tally)

    def _publish(self, comment_id: int, tally: Tally) -> None:
        event = VoteEvent(
            id=comment_id, score=tally.score, up=tally.up, down=tally.down, seq=tally.seq
        )
        self.hub.publish(article_topic(tally.article), Message.of(_encode(event)))
