"""What the Store's writes take and return: Structs shared by the Store and its SQL modules.

`NewComment` is never sent to anyone; the others carry what the service publishes after commit.
"""

from __future__ import annotations

import msgspec

from realtime.models import Comment

# The columns of a comment as the public `Comment` has them, in its field order.
COMMENT_COLUMNS = "id, article, parent, author, avatar, body, created, edited"
# The next change number (edit or deletion), taken inside the writer's transaction: right because
# write transactions run one at a time on every backend (SQLite's write lock, PostgreSQL's writer
# lock), so change numbers follow commit order, in each article and across them.
NEXT_REV = "SELECT coalesce(max(rev), 0) + 1 FROM comments WHERE rev > 0"


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
