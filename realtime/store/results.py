"""What the Store's writes take and return: Structs shared by the Store and its SQL modules.

`NewComment` is never sent to anyone; the others carry what the service publishes after commit.
"""

from __future__ import annotations

import msgspec

from realtime.models import Comment
from realtime.store.rows import COMMENT_COLUMNS, NEXT_REV

__all__ = ["COMMENT_COLUMNS", "NEXT_REV"]  # defined with the row conversions, in rows.py


class NewComment(msgspec.Struct, frozen=True, kw_only=True):
    """A comment the service has checked and is about to store (never sent to anyone).
    Its fields, in order, are the columns `moderation.NEW_COLUMNS`."""

    article: str
    parent: int | None
    author: str
    email: str | None
    avatar: str
    body: str
    created: str
    token_hash: bytes
    html: str  # `body` rendered by realtime.formatting, in `format`
    format: str
    voter_hash: bytes | None = None  # the poster's voter (keyed hash): no votes on one's own
    # What a ban needs (see `moderators.bans`): the network as moderators may see it, and its
    # keyed hash. None when the poster's address is not an IP address.
    client_prefix: str | None = None
    client_key: bytes | None = None
    notify: bool = False  # its author asked for an e-mail on replies


class Posted(msgspec.Struct, frozen=True):
    comment: Comment
    count: int


class Removed(msgspec.Struct, frozen=True):
    id: int
    article: str
    count: int
    rev: int = 0


class Edited(msgspec.Struct, frozen=True):
    comment: Comment
    rev: int


class Change(msgspec.Struct, frozen=True):
    """An edit or deletion since some `rev`, as the comment stands now (None once deleted)."""

    id: int
    rev: int
    comment: Comment | None


class Authorship(msgspec.Struct, frozen=True):
    """What the service needs to decide whether a token may edit or delete a comment
    (also once deleted: its author is then told so, anyone else learns nothing)."""

    id: int
    article: str
    created: str
    token_hash: bytes
    published: bool
