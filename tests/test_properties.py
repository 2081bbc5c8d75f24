"""Hypothesis on the inbound models and on the store.

Models: any JSON document either decodes into a value inside the declared bounds, or fails with a
msgspec error that `from_validation` turns into a 422 naming the field at fault.
Store: any sequence of adds (single or concurrent, some of them refused), edits and deletes keeps
every article's `count` equal to its published comments, and ids strictly increasing.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.errors import AppError, Conflict, NotFound, from_validation
from realtime.models import (
    AUTHOR_MAX,
    BODY_MAX,
    EMAIL_MAX,
    EMAIL_PATTERN,
    TITLE_MAX,
    URL_MAX,
    ArticleIn,
    CommentIn,
    ErrorBody,
)
from realtime.store import NewComment, Posted, Store

MODEL_SETTINGS = settings(max_examples=300, deadline=None)
STORE_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# ---- models ----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner)
)


def near_bound_text(limit: int) -> st.SearchStrategy[str]:
    """Text around the length bound, sometimes blank, sometimes with a NUL."""
    lengths = st.sampled_from([0, 1, 2, limit - 1, limit, limit + 1])
    alphabet = st.sampled_from(["a", " ", "é", "\n", "\x00", "😀"])
    return lengths.flatmap(lambda n: st.text(alphabet, min_size=n, max_size=n)) | st.text()


emails = st.emails().map(str) | st.sampled_from(["a@b.c", "no-at.example", "a@b", "x y@z.org"])
urls = st.sampled_from(["https://x.example/1", "ftp://x", "http://", "https://a b"]) | st.builds(
    lambda n: "https://x.example/" + "a" * n, st.sampled_from([0, URL_MAX - 19, URL_MAX])
)

FIELD_VALUES: dict[type[Any], dict[str, st.SearchStrategy[Any]]] = {
    CommentIn: {
        "author": near_bound_text(AUTHOR_MAX),
        "body": near_bound_text(BODY_MAX),
        "email": st.none() | emails,
        "parent": st.none() | st.integers(min_value=-3, max_value=2**64),
    },
    ArticleIn: {"title": near_bound_text(TITLE_MAX), "url": st.none() | urls},
}


@st.composite
def documents(draw: st.DrawFn, kind: type[Any]) -> Any:
    """Mostly objects with the model's fields (plausible or arbitrary values), some extra keys."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    document: dict[str, Any] = {}
    for name, plausible in FIELD_VALUES[kind].items():
        if draw(st.integers(0, 5)) > 0:
            document[name] = draw(plausible | json_values)
    if draw(st.integers(0, 5)) == 0:
        document.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    return document


def no_nul(text: str) -> bool:
    return "\x00" not in text


def within_bounds(value: CommentIn | ArticleIn) -> bool:
    if isinstance(value, CommentIn):
        return (
            1 <= len(value.author) <= AUTHOR_MAX
            and 1 <= len(value.body) <= BODY_MAX
            and no_nul(value.author + value.body)
            and (
                value.email is None
                or (len(value.email) <= EMAIL_MAX and re.match(EMAIL_PATTERN, value.email))
            )
            and (value.parent is None or value.parent >= 1)
        ) is True
    return (
        1 <= len(value.title) <= TITLE_MAX
        and no_nul(value.title)
        and (value.url is None or (len(value.url) <= URL_MAX and value.url.startswith("http")))
    )


def check_decoding(kind: type[Any], document: Any) -> None:
    raw = msgspec.json.encode(document)
    try:
        value = msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        error = from_validation(exc)
        assert error.status == 422 and error.code == "invalid" and error.message
        shape = msgspec.json.decode(msgspec.json.encode(error.body()), type=ErrorBody)
        assert shape.error.status == 422
        if isinstance(document, dict):
            assert error.field is not None, str(exc)
            assert error.field in document or error.field in kind.__struct_fields__, error.field
        else:
            assert error.field is None
        return
    assert within_bounds(value), value


@MODEL_SETTINGS
@given(documents(CommentIn))
def test_comment_in_decodes_within_bounds_or_names_the_field(document: Any) -> None:
    """A CommentIn is within its bounds, or the 422 names the field that is not."""
    check_decoding(CommentIn, document)


@MODEL_SETTINGS
@given(documents(ArticleIn))
def test_article_in_decodes_within_bounds_or_names_the_field(document: Any) -> None:
    """An ArticleIn is within its bounds, or the 422 names the field that is not."""
    check_decoding(ArticleIn, document)


# ---- store -----------------------------------------------------------------------------------

ARTICLES = ("a", "b", "c")
ops = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(ARTICLES), st.integers(-1, 30)),
    st.tuples(st.just("burst"), st.sampled_from(ARTICLES), st.integers(2, 6)),
    st.tuples(st.just("edit"), st.integers(0, 30)),
    st.tuples(st.just("delete"), st.integers(0, 30)),
    st.tuples(st.just("orphan"), st.sampled_from(["nope", "a"]), st.integers(-1, 10**6)),
)


@dataclass
class Model:
    """What the store should hold: comment id -> (article, published)."""

    comments: dict[int, tuple[str, bool]] = field(default_factory=dict)
    last_id: int = 0

    def published(self, slug: str) -> int:
        return sum(1 for article, live in self.comments.values() if article == slug and live)

    def pick(self, index: int) -> int | None:
        ids = sorted(self.comments)
        return ids[index % len(ids)] if ids else None

    def record(self, comment_id: int, article: str) -> None:
        assert comment_id > self.last_id, "ids must strictly increase"
        self.last_id = comment_id
        self.comments[comment_id] = (article, True)


def new_comment(article: str, parent: int | None, n: int) -> NewComment:
    return NewComment(
        article=article,
        parent=parent,
        author="Prop",
        email=None,
        avatar="0" * 32,
        body=f"comment {n}",
        created="2026-01-01T00:00:00.000Z",
        token_hash=b"\x00" * 32,
        html=f"<p>comment {n}</p>",
        format="text",
    )


async def apply(store: Store, model: Model, op: tuple[Any, ...], n: int) -> None:
    match op:
        case ("add", article, parent_index):
            parent = model.pick(parent_index) if parent_index >= 0 else None
            await add_all(store, model, [(article, parent)], n)
        case ("burst", article, size):
            # Concurrent adds share one group commit; a bad parent fails only its own job.
            parents = [None, -1, model.pick(n)]
            await add_all(store, model, [(article, parents[k % 3]) for k in range(size)], n)
        case ("orphan", article, parent):
            await add_all(store, model, [(article, parent if parent > 0 else None)], n)
        case ("edit", index):
            target = model.pick(index)
            if target is not None:
                text = (f"edit {n}", f"<p>edit {n}</p>", "text")
                edit = store.edit_comment(target, text, "2026-01-01T00:00:01.000Z")
                await expect(edit, model.comments[target][1])
        case ("delete", index):
            target = model.pick(index)
            if target is not None:
                await expect(store.delete_comment(target), model.comments[target][1])
                model.comments[target] = (model.comments[target][0], False)


async def add_all(store: Store, model: Model, wanted: list[tuple[str, int | None]], n: int) -> None:
    """Submit all at once; in submission order, each succeeds exactly when the model says so."""
    results = await asyncio.gather(
        *(store.add_comment(new_comment(article, parent, n)) for article, parent in wanted),
        return_exceptions=True,
    )
    for (article, parent), result in zip(wanted, results, strict=True):
        ok = article in ARTICLES and (
            parent is None or model.comments.get(parent) == (article, True)
        )
        if isinstance(result, NotFound | Conflict):
            assert not ok, result
            continue
        assert ok and isinstance(result, Posted), result
        model.record(result.comment.id, article)
        assert result.count == model.published(article)


async def expect(write: Any, ok: bool) -> None:
    try:
        await write
    except NotFound:
        assert not ok
    else:
        assert ok


def stored_counts(db: Path) -> dict[str, tuple[int, int]]:
    """Per article: (articles.count, published rows), read straight from the file."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT slug, count, (SELECT count(*) FROM comments c"
            " WHERE c.article = a.slug AND c.status = 'published') FROM articles a"
        ).fetchall()
    return {slug: (count, published) for slug, count, published in rows}


async def run_sequence(db: Path, sequence: list[tuple[Any, ...]]) -> None:
    store = await Store.open(db)
    try:
        for slug in ARTICLES:
            await store.put_article(slug, ArticleIn(title=slug), "2026-01-01T00:00:00.000Z")
        model = Model()
        for n, op in enumerate(sequence):
            try:
                await apply(store, model, op, n)
            except AppError as exc:  # only the refusals the model predicts are allowed
                raise AssertionError(f"unexpected {exc!r} for {op}") from exc
            for slug in ARTICLES:
                article = await store.get_article(slug)
                assert article is not None and article.count == model.published(slug)
    finally:
        await store.close()
    counts = stored_counts(db)
    assert all(count == published for count, published in counts.values()), counts
    assert {slug: counts[slug][0] for slug in ARTICLES} == {
        slug: model.published(slug) for slug in ARTICLES
    }


@STORE_SETTINGS
@given(st.lists(ops, min_size=1, max_size=25))
def test_store_counts_match_published_comments(sequence: list[tuple[Any, ...]]) -> None:
    """count == published comments after every step; ids increase; refusals change nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run_sequence(Path(tmp) / "db.sqlite", sequence))
