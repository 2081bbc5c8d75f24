"""Sorted pages of threads: `?sort=oldest|newest|top` with `after`/`before` ids or a `cursor`.

What a page is (see `realtime.store.threads`): up to `limit` threads (a root and all its replies,
replies in id order under their parents), the pinned roots first on the first page. The
contract's own page (no `sort`) is untouched: every comment in id order from `after`.

Cursors are opaque to clients: base64url of (sort, direction, score, id); one that does not
decode, or belongs to another order than `sort`, names no page (404). An id works as well:
`after=ID` goes on in oldest and top and back in newest, `before=ID` the other way round (in
`top` the id stands for that comment's place now: its score, then its id). A cursor wins over
`before`, `before` over `after`; without `sort`, a cursor's own order, else oldest.
"""

from __future__ import annotations

import base64
import binascii

import msgspec

from realtime.errors import Invalid, NotFound
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


def decode_cursor(text: str, sort: Sort | None) -> _Cursor:
    """The cursor, if this server made it (for `sort`, when given); else 404: no such page."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        cursor = _decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise NotFound(
            "no page for this cursor (give one this server gave out)", "cursor"
        ) from None
    if sort is not None and cursor.sort != sort:
        raise NotFound(
            f"no page for this cursor in sort={sort} (it is a {cursor.sort} one)", "cursor"
        )
    return cursor


def parse_sort(raw: str | None) -> Sort | None:
    if raw is None:
        return None
    for sort in SORTS:
        if raw == sort:
            return sort
    raise Invalid("sort must be oldest, newest or top", "sort")


async def start_of(
    store: Store, sort: Sort | None, ids: tuple[int | None, int | None], cursor: str | None
) -> tuple[Sort, Key | None, bool]:
    """The order, where the page starts (None: the first page) and whether it goes backward.
    A cursor wins over `before`, and `before` over `after`; a cursor carries its own order."""
    after, before = ids
    if cursor is not None:
        found = decode_cursor(cursor, sort)
        return found.sort, found.key, found.backward
    order: Sort = sort or "oldest"
    for name, value in (("before", before), ("after", after)):
        if value is None or (name == "after" and value == 0):
            continue  # after=0: from the start, as on the contract's page
        if value < 0:
            raise Invalid(f"{name} must be a comment id", name)
        key = Key(await _score(store, value, name) if order == "top" else 0, value)
        # `after` goes on and `before` back, but for `newest`, which runs the other way.
        return order, key, (name == "before") != (order == "newest")
    return order, None, False


async def _score(store: Store, comment_id: int, name: str) -> int:
    """In `top` an id stands for where that comment is now: its score, then its id."""
    comment = await store.get_comment(comment_id)
    if comment is None:
        raise NotFound(f"no comment {comment_id} to page from", name)
    return comment.score


async def sorted_page(
    store: Store, article: Article, start: tuple[Sort, Key | None, bool], limit: int
) -> SortedPage:
    if not 1 <= limit <= PAGE_MAX:
        raise Invalid(f"limit must be between 1 and {PAGE_MAX}", "limit")
    sort, key, backward = start
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
