"""Every payload of the API as a msgspec Struct: decoding is the validation.

Inbound types (`*In`) forbid unknown fields and carry their bounds on the fields; outbound types
are what the server writes. WebSocket events are frozen members of one tagged union, encoded once
per event and sent as the same bytes to every reader.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

AUTHOR_MAX = 80
BODY_MAX = 10_000
EMAIL_MAX = 254
TITLE_MAX = 300
URL_MAX = 2048
PAGE_MAX = 500
COUNTS_MAX = 200

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,127}$"
# Python's whitespace, what `str.strip()` removes: a text made only of it is blank.
PY_SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A text without NUL characters (SQLite and browsers treat NUL badly; the API refuses it) and
# not blank (the service strips it): what the OpenAPI document promises is what is accepted.
NOT_BLANK = rf"^[^\x00]*[^\x00{PY_SPACE}][^\x00]*$"
# Controls and every kind of space, spelled out: Python's `\s` (what the server checks) and
# JSON Schema's (ECMA-262, what the OpenAPI document promises) are not the same set.
NO_SPACE = r"\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces.
EMAIL_PATTERN = rf"^[^@{NO_SPACE}]+@[^@{NO_SPACE}]+\.[^@{NO_SPACE}]+$"
URL_PATTERN = rf"^https?://[^{NO_SPACE}]+$"

Slug = Annotated[str, Meta(pattern=SLUG_PATTERN)]
ID_MAX = 2**63 - 1  # the largest SQLite INTEGER
CommentId = Annotated[int, Meta(ge=1, le=ID_MAX)]
# A browser's random voter token (the client makes 32 random bytes, base64url).
VoterToken = Annotated[str, Meta(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
RECENT_MAX = 100


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the API shows every time."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class Base(msgspec.Struct, forbid_unknown_fields=True):
    """Shared settings of inbound messages: unknown fields are refused, not ignored."""


# ---- inbound ---------------------------------------------------------------------------------


class ArticleIn(Base):
    title: Annotated[str, Meta(min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK)]
    url: Annotated[str, Meta(max_length=URL_MAX, pattern=URL_PATTERN)] | None = None


class CommentIn(Base):
    author: Annotated[str, Meta(min_length=1, max_length=AUTHOR_MAX, pattern=NOT_BLANK)]
    body: Annotated[str, Meta(min_length=1, max_length=BODY_MAX, pattern=NOT_BLANK)]
    email: Annotated[str, Meta(max_length=EMAIL_MAX, pattern=EMAIL_PATTERN)] | None = None
    parent: CommentId | None = None
    # Honeypot: a field people never see and bots fill in; a comment with it is held.
    website: Annotated[str, Meta(max_length=URL_MAX)] | None = None
    # The poster's voter token, so that they cannot vote on their own comment (kept hashed).
    voter: VoterToken | None = None
    # E-mail me when someone replies (the address is confirmed first; without `email`, ignored).
    notify: bool = False


class CommentEdit(Base):
    body: Annotated[str, Meta(min_length=1, max_length=BODY_MAX, pattern=NOT_BLANK)]


class VoteIn(Base):
    """`value` 1 (up), -1 (down) or 0 (take the vote back)."""

    voter: VoterToken
    value: Literal[1, -1, 0]


class PreviewIn(Base):
    body: Annotated[str, Meta(max_length=BODY_MAX, pattern=r"^[^\x00]*$")]  # no NUL; may be blank


# ---- outbound --------------------------------------------------------------------------------


class Article(msgspec.Struct):
    slug: str
    title: str
    url: str | None
    created: str
    count: int
    closed: bool = False  # closed to new comments (an addition to API.md)


class Comment(msgspec.Struct):
    """The public comment. There is no e-mail field: it cannot leak through this type."""

    id: int
    article: str
    parent: int | None
    author: str
    avatar: str
    body: str
    created: str
    edited: str | None
    # Additions to API.md: the body as HTML made by the server's sanitizer (the only markup a
    # client may insert), the votes, and whether a moderator pinned it to the top.
    html: str = ""
    score: int = 0
    up: int = 0
    down: int = 0
    pinned: bool = False


class ArticleList(msgspec.Struct):
    articles: list[Article]


class CommentCreated(msgspec.Struct):
    comment: Comment
    token: str
    # "pending": held for moderation; `comment.id` is then the id in the moderation queue, and
    # the comment gets its public id when it is approved (an addition to API.md).
    status: Literal["published", "pending"] = "published"


class PendingComment(msgspec.Struct):
    """A held comment as moderators see it (still without the e-mail)."""

    id: int
    article: str
    parent: int | None
    author: str
    avatar: str
    body: str
    created: str
    reason: str


class PendingList(msgspec.Struct):
    pending: list[PendingComment]


class CommentPage(msgspec.Struct):
    article: str
    count: int
    comments: list[Comment]
    next: int | None
    # The newest edit or deletion when this page was read: a client opens its live thread with
    # ?after=<last id>&rev=<this> to be sent what changed since (an addition to API.md).
    rev: int = 0


class SortedPage(msgspec.Struct):
    """A page of threads (`sort=`): roots in order, each followed by its replies."""

    article: str
    count: int
    comments: list[Comment]
    next: int | None  # the id to go on from (after= in oldest, before= in newest), null at the end
    rev: int
    sort: str
    cursor: str | None  # opaque: the following page
    prev: str | None  # opaque: the page before, null on the first page
    last: int | None  # the newest comment id when the page was read: resume the socket after it


class VoteResult(msgspec.Struct):
    id: int
    score: int
    up: int
    down: int


class Preview(msgspec.Struct):
    html: str


class RecentList(msgspec.Struct):
    comments: list[Comment]
    titles: dict[str, str]  # slug -> article title, for the comments listed


class Counts(msgspec.Struct):
    counts: dict[str, int]


class Health(msgspec.Struct):
    status: str


class ErrorDetail(msgspec.Struct, omit_defaults=False):
    status: int
    code: str
    message: str
    field: str | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


class Notification(msgspec.Struct):
    """An outbox entry as the admin sees it: never an e-mail address (`target` is the webhook's
    URL, or null for mail)."""

    id: int
    channel: Literal["mail", "webhook"]
    event: str
    target: str | None
    state: Literal["pending", "sent", "dead"]
    attempts: int
    created: str
    last_error: str | None


class NotificationList(msgspec.Struct):
    notifications: list[Notification]


# ---- webhooks: the JSON body of each delivery (tagged by `event`) -----------------------------


class WebhookBody(msgspec.Struct, frozen=True, tag_field="event"):
    """Base of every webhook body; `article` is the slug. Never carries an e-mail address."""

    article: str


class CommentPublishedHook(WebhookBody, frozen=True, tag="comment.published"):
    comment: Comment
    count: int


class CommentHeldHook(WebhookBody, frozen=True, tag="comment.held"):
    comment: PendingComment


class CommentEditedHook(WebhookBody, frozen=True, tag="comment.edited"):
    comment: Comment
    rev: int


class CommentDeletedHook(WebhookBody, frozen=True, tag="comment.deleted"):
    id: int
    count: int
    rev: int


class ArticleClosedHook(WebhookBody, frozen=True, tag="article.closed"):
    closed: bool


WebhookEvent = (
    CommentPublishedHook
    | CommentHeldHook
    | CommentEditedHook
    | CommentDeletedHook
    | ArticleClosedHook
)


# ---- WebSocket: server to client -------------------------------------------------------------


class Event(msgspec.Struct, frozen=True, tag_field="type"):
    """Base of every server-to-client WebSocket message."""


class Hello(Event, frozen=True, tag="hello"):
    article: str
    count: int
    last: int | None
    watchers: int
    closed: bool = False
    rev: int = 0  # the newest edit or deletion so far: resume with ?after=…&rev=… (an addition)


class CommentEvent(Event, frozen=True, tag="comment"):
    comment: Comment
    count: int


class EditEvent(Event, frozen=True, tag="edit"):
    comment: Comment
    rev: int = 0


class DeleteEvent(Event, frozen=True, tag="delete"):
    id: int
    count: int
    rev: int = 0


class VoteEvent(Event, frozen=True, tag="vote"):
    """A comment's votes changed; coalesced per comment (a few per second at most). `seq`
    grows with every vote on the comment: keep the event with the highest."""

    id: int
    score: int
    up: int
    down: int
    seq: int = 0


class PinEvent(Event, frozen=True, tag="pin"):
    id: int
    pinned: bool
    rev: int = 0


class WatchersEvent(Event, frozen=True, tag="watchers"):
    count: int


class Pong(Event, frozen=True, tag="pong"):
    pass


class ClosedEvent(Event, frozen=True, tag="closed"):
    """The article was closed to new comments, or opened again."""

    article: str
    closed: bool


class PendingEvent(Event, frozen=True, tag="pending"):
    """To moderators: a comment was held."""

    comment: PendingComment


class QueueSnapshot(Event, frozen=True, tag="queue"):
    """To moderators, first: every held comment."""

    pending: list[PendingComment]


class ResolvedEvent(Event, frozen=True, tag="resolved"):
    """To moderators: a held comment was approved or rejected."""

    id: int
    outcome: Literal["approved", "rejected"]


class CountsSnapshot(Event, frozen=True, tag="counts"):
    counts: dict[str, int]


class CountEvent(Event, frozen=True, tag="count"):
    article: str
    count: int


ServerEvent = (
    Hello
    | CommentEvent
    | EditEvent
    | DeleteEvent
    | WatchersEvent
    | Pong
    | ClosedEvent
    | VoteEvent
    | PinEvent
)
CountsStreamEvent = CountsSnapshot | CountEvent

# ---- WebSocket: client to server -------------------------------------------------------------


class Ping(Base):
    """`{"type": "ping"}`. A required Literal, not a struct tag: msgspec lets a lone tagged struct
    decode from `{}`, and a message without its type is malformed."""

    type: Literal["ping"]


class Auth(Base):
    """`{"type": "auth", "token": "…"}`: a moderator's first message on /ws/admin."""

    type: Literal["auth"]
    token: Annotated[str, Meta(max_length=512)]


ClientMessage = Ping


# ---- moderators, bans, the audit trail, a commenter's data (additions to API.md) -------------


class AuditEntry(msgspec.Struct):
    """One moderation action: who (a moderator's name, "owner" or "cli"), when, what, on what."""

    id: int
    at: str
    actor: str
    action: str
    article: str | None
    comment: int | None
    pending: int | None
    detail: str


class AuditPage(msgspec.Struct):
    entries: list[AuditEntry]
    next: int | None  # the `before` of the next (older) page, null on the last


class ModeratorInfo(msgspec.Struct):
    id: int
    name: str
    created: str
    revoked: str | None


class BanIn(Base):
    """Ban the poster of a comment: by their network, their e-mail, or both (`on`). A ban uses
    what the comment still keeps of those; keeping neither is a 409."""

    reason: Annotated[str, Meta(min_length=1, max_length=500, pattern=NOT_BLANK)]
    on: Literal["network", "email", "both"] = "both"
    minutes: Annotated[int, Meta(ge=1, le=100 * 366 * 24 * 60)] | None = None  # null: for good


class Ban(msgspec.Struct):
    """A ban as moderators see it: the network only as a /24 or /64 prefix, the e-mail not at all
    (only whether the ban matches it)."""

    id: int
    address: str | None
    email: bool
    author: str
    comment: int | None
    pending: int | None
    reason: str
    created: str
    expires: str | None
    moderator: str
    lifted: str | None
    lifted_by: str | None
    active: bool


class BanList(msgspec.Struct):
    bans: list[Ban]
    next: int | None


class WordLists(msgspec.Struct):
    hold_words: list[str]
    refuse_words: list[str]


class CommenterIn(Base):
    """A commenter's address, sent in a body (never in a URL, which logs would keep)."""

    email: Annotated[str, Meta(max_length=EMAIL_MAX, pattern=EMAIL_PATTERN)]


class ForgetIn(CommenterIn):
    keep_text: bool = False  # anonymise the comments but keep their text


class Forgotten(msgspec.Struct):
    """What `forget` changed: comments anonymised (published ones stay as "deleted" with their
    text only with keep_text), held comments dropped, bans renamed, notifications dropped."""

    comments: int
    pending: int
    bans: int
    subscriptions: int = 0  # its "notify me of replies" (0 or 1)
    notifications: int = 0  # outbox rows that held the address or its comments


class StoredComment(msgspec.Struct):
    """A comment as the database keeps it, for its author's copy of their data."""

    id: int
    article: str
    parent: int | None
    author: str
    avatar: str
    body: str
    created: str
    edited: str | None
    status: str
    network: str | None


class StoredHeld(msgspec.Struct):
    id: int
    article: str
    parent: int | None
    author: str
    avatar: str
    body: str
    created: str
    reason: str
    network: str | None


class StoredSubscription(msgspec.Struct):
    """The address's answer to "notify me of replies", and when it was last asked to confirm."""

    state: Literal["unconfirmed", "confirmed", "unsubscribed"]
    asked: str


class CommenterData(msgspec.Struct):
    """Everything stored about one e-mail address (`realtime export --email`, the admin API)."""

    email: str
    exported: str
    comments: list[StoredComment]
    pending: list[StoredHeld]
    bans: list[Ban]
    subscription: StoredSubscription | None = None
    notifications: list[Notification] = msgspec.field(default_factory=list)  # mails to it
