"""Atom feeds of comments: `/feeds/comments.atom` (the site's newest) and
`/feeds/articles/{slug}.atom` (one article's newest), `feed_size` entries each.

A small Jinja2 template (autoescaped, so every text and the sanitized `html` are XML-escaped)
rather than a feed library: the format is small and fixed. Entries carry the author's name, never
the e-mail; held comments are not published, so they are not in any feed. Each answer has an
`ETag` (a digest of its bytes); `If-None-Match` with it gets 304 and no body.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.errors import NotFound
from realtime.models import Comment, timestamp
from realtime.web.http import service
from realtime.web.i18n import Translator

MEDIA = "application/atom+xml; charset=utf-8"
CACHE = "public, max-age=60"


class Feeds:
    def __init__(self, env: Environment, t: Translator, size: int) -> None:
        self.template = env.get_template("feed.atom")
        self.t = t
        self.size = size

    def routes(self) -> list[Route]:
        return [
            Route("/feeds/comments.atom", self.site, methods=["GET"]),
            Route("/feeds/articles/{slug}.atom", self.article, methods=["GET"]),
        ]

    async def site(self, request: Request) -> Response:
        svc = service(request)
        comments = await svc.store.recent(self.size)
        titles = {article.slug: article.title for article in await svc.articles()}
        base = _origin(request)
        return self.answer(
            request,
            comments,
            titles,
            title=self.t.t("feed.site_title", site=self.t.t("site.name")),
            self_url=f"{base}/feeds/comments.atom",
            page_url=f"{base}/",
        )

    async def article(self, request: Request) -> Response:
        svc = service(request)
        try:
            article = await svc.article(request.path_params["slug"])
        except NotFound:
            raise NotFound(f"no article {request.path_params['slug']!r}") from None
        comments = await svc.store.recent(self.size, article.slug)
        base = _origin(request)
        return self.answer(
            request,
            comments,
            {article.slug: article.title},
            title=self.t.t("feed.article_title", title=article.title),
            self_url=f"{base}/feeds/articles/{article.slug}.atom",
            page_url=f"{base}/articles/{article.slug}",
            since=article.created,
        )

    def answer(
        self,
        request: Request,
        comments: list[Comment],
        titles: dict[str, str],
        since: str | None = None,
        **context: str,
    ) -> Response:
        newest = max((c.edited or c.created for c in comments), default=None)
        updated = newest or since or timestamp(datetime(2000, 1, 1, tzinfo=UTC))
        body = self.template.render(
            t=self.t,
            base=_origin(request),
            comments=comments,
            titles=titles,
            updated=updated,
            **context,
        ).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": CACHE}
        if etag in _tags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        return Response(body, headers=headers, media_type=MEDIA)


def _tags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare as strong: RFC 9110)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"
