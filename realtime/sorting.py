"""Sorted pages of threads: `?sort=oldest|newest|top` with `after`/`before` ids or a `cursor`.

What a page is (see `realtime.store.threads`): up to `limit` threads (a root and all its replies,
replies in id order under their parents), the pinned roots first on the first page. The
contract's own page (no `sort`) is untouched: every comment in id order from `after`.

Cursors are opaque to clients: base64url of (sort, direction, score, id), refused (422) when
they do not decode or belong to another order. In `oldest` and `newest` an id works as well:
`after=ID` goes on in oldest and back in newest, `before=ID` the other way round.
"""

from __future__ import annotations

import base64
import binascii

import msgspec

from realtime.errors import Invalid
from realtime.models import PAGE_MAX, Article, Comment, SortedPage
from realtime.store import Store
from realtime.store.threads import SORTS, Key, Sort, key_of


class _Cursor(msgspec.Struct, frozen=True, array_like=True):
    sort: Sort
    backward: bool
    key: Key


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Cursor).decode


def encode_cursor(sort: Sort, backward: bool, key: Key) -> str:
    return base64.urlsafe_b64encode(_encode(_Cursor(sort, backward, key))).decode().rstrip("=")


def decode_cursor(text: str, sort: Sort) -> _Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        cursor = _decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise Invalid("cursor is not one this server gave out", "cursor") from None
    if cursor.sort != sort:
        raise Invalid(f"this cursor belongs to sort={cursor.sort}", "cursor")
    return cursor


def parse_sort(raw: str) -> Sort:
    for sort in SORTS:
        if raw == sort:
            return sort
    raise Invalid("sort must be oldest, newest or top", "sort")


def start_of(
    sort: Sort, after: int | None, before: int | None, cursor: str | None
) -> tuple[Key | None, bool]:
    """Where the page starts (None: the first page) and whether it goes backward."""
    named = (("after", after), ("before", before), ("cursor", cursor))
    given = [name for name, value in named if value is not None]
    if len(given) > 1:
        raise Invalid("give at most one of after, before and cursor", given[1])
    if cursor:
        found = decode_cursor(cursor, sort)
        return found.key, found.backward
    if sort == "top" and (after or before):
        raise Invalid("sort=top pages with cursor, not ids", "after" if after else "before")
    for name, value in (("after", after), ("before", before)):
        if value is not None and value < 0:
            raise Invalid(f"{name} must be a comment id", name)
    if after:
        return Key(0, after), sort == "newest"
    if before:
        return Key(0, before), sort == "oldest"
    return None, False


async def sorted_page(
    store: Store, article: Article, sort: Sort, start: tuple[Key | None, bool], limit: int
) -> SortedPage:
    if not 1 <= limit <= PAGE_MAX:
        raise Invalid(f"limit must be between 1 and {PAGE_MAX}", "limit")
    key, backward = start
    slug = article.slug
    rev = await store.last_rev(slug)  # before the rows: changes after it are newer
    last = await store.last_comment_id(slug)
    found = await store.thread_page(slug, sort, key, backward, limit + 1)
    pinned = [root for root in found if root.pinned]
    roots = [root for root in found if not root.pinned]
    more = len(roots) > limit
    roots = (roots[1:] if backward else roots[:limit]) if more else roots
    comments = await store.with_replies(pinned + roots)
    following = (more and not backward) or (backward and key is not None)
    earlier = (more and backward) or (not backward and key is not None)
    return SortedPage(
        article=slug,
        count=article.count,
        comments=comments,
        next=roots[-1].id if following and roots else None,
        rev=rev,
        sort=sort,
        cursor=_cursor(sort, False, roots[-1]) if following and roots else None,
        prev=_cursor(sort, True, roots[0]) if earlier and roots else None,
        last=last,
    )


def _cursor(sort: Sort, backward: bool, root: Comment) -> str:
    return encode_cursor(sort, backward, key_of(root))
