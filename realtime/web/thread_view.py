"""A page of comments as the reader sees it: replies under their parents, as static/thread.js
nests them, with the same "replying to …" labels, the heading and the "Show more" gap."""

from __future__ import annotations

from dataclasses import dataclass, field

from realtime.models import Comment, CommentPage, SortedPage
from realtime.web.i18n import Translator

MAX_DEPTH = 3  # thread.js: deeper replies stop indenting and say whom they answer


@dataclass
class CommentView:
    comment: Comment
    depth: int
    replying: str | None = None
    replies: list[CommentView] = field(default_factory=list)


@dataclass(frozen=True)
class Gap:
    after: int  # the next page starts after this id
    label: str
    query: str = ""  # the next page's query string (default: ?after=)

    @property
    def key(self) -> str:
        """thread.js orders the gap among comments by this key (after + 0.5)."""
        return f"{self.after}.5"

    @property
    def href_query(self) -> str:
        return self.query or f"after={self.after}"


def thread_tree(comments: list[Comment], before: int, t: Translator) -> list[CommentView]:
    """Comments in id order as a forest; a reply whose parent is not on the page stays at the
    top level, labelled as answering an earlier page (id <= `before`) or a removed comment."""
    views: dict[int, CommentView] = {}
    roots: list[CommentView] = []
    for comment in comments:
        parent = views.get(comment.parent) if comment.parent is not None else None
        view = CommentView(comment, parent.depth + 1 if parent else 0)
        views[comment.id] = view
        (parent.replies if parent else roots).append(view)
        view.replying = _label(comment, parent, before, t)
    return sorted(roots, key=lambda view: not view.comment.pinned)  # pinned first, else as given


def _label(comment: Comment, parent: CommentView | None, before: int, t: Translator) -> str | None:
    if comment.parent is None:
        return None
    if parent is None:
        earlier = comment.parent <= before
        return t.t("comment.replying_earlier" if earlier else "comment.replying_removed")
    if parent.depth + 1 > MAX_DEPTH:
        return t.t("comment.replying_to", author=parent.comment.author)
    return None


def heading(count: int, title: str, t: Translator) -> str:
    """format.js `countHeading`: "No comments yet on “…”", "1 Comment on “…”"."""
    if count == 0:
        return t.t("count.heading_none_on", title=title)
    return t.n("count.heading_on", count, title=title)


def count_label(count: int, t: Translator) -> str:
    """format.js `countLabel`: "No comments", "1 comment", "5 comments"."""
    return t.t("count.label_none") if count == 0 else t.n("count.label", count)


def sorted_gap(page: SortedPage, t: Translator) -> Gap | None:
    """ "Show more" below a page of threads: the next page's cursor."""
    if page.cursor is None or page.next is None:
        return None
    return Gap(page.next, t.t("thread.show_more_any"), f"sort={page.sort}&cursor={page.cursor}")


def gap(page: CommentPage, after: int, t: Translator) -> Gap | None:
    """thread.js's "Show N more comments" below the page, when there is more (N is only known
    on the first page)."""
    if page.next is None:
        return None
    hidden = max(0, page.count - len(page.comments)) if after == 0 else 0
    label = t.n("thread.show_more", hidden) if hidden > 0 else t.t("thread.show_more_any")
    return Gap(page.next, label)
