"""Rows as Structs: the column lists the Store selects, and the conversions every backend needs
(SQLite has no booleans: `closed` and `pinned` come back as 0 or 1 there)."""

from __future__ import annotations

from typing import Any

from realtime.models import Article, Comment

# The public comment, in the order of `Comment`'s fields.
COMMENT_COLUMNS = (
    "id, article, parent, author, avatar, body, created, edited, html, score, up, down, pinned"
)
ARTICLE_COLUMNS = "slug, title, url, created, count, closed"
# The next change number (edits, deletions, pins), taken inside the writer's transaction: right
# because write transactions run one at a time on every backend (SQLite's write lock,
# PostgreSQL's writer lock), so change numbers follow commit order, in each article and across.
NEXT_REV = "SELECT coalesce(max(rev), 0) + 1 FROM comments WHERE rev > 0"


def comment_from(row: Any) -> Comment:
    """A COMMENT_COLUMNS row (and nothing after it) as the public Struct."""
    fields = list(row[:13])
    fields[12] = bool(fields[12])  # pinned
    return Comment(*fields)


def article_from(row: Any) -> Article:
    """An `articles` row (ARTICLE_COLUMNS) as the public Struct."""
    slug, title, url, created, count, closed = row
    return Article(slug, title, url, created, count, bool(closed))
