"""The server-rendered pages: `/`, `/articles/{slug}` with its no-JavaScript form, `/admin`, and
`/i18n.json` (the message catalog the browser client reads).

Jinja2 renders `templates/` with autoescaping on; `make_environment` is the one place it is set
up. The article page carries the count, the first page of the thread and the form, so it reads
without JavaScript and search engines see the comments. It also carries the same data as a
`<script type="application/json">` block (data, never run; the CSP allows no inline script),
from which static/thread.js adopts the rendered thread instead of fetching it again.

The form posts here as `application/x-www-form-urlencoded`: the same `CommentService.post` as
the JSON API (limits, moderation, honeypot), then 303 to the comment (post/redirect/get), or the
page again with the error by its field and the text kept. CSRF rules are in `csrf.py`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from realtime.config import Settings
from realtime.errors import AppError, Invalid, NotFound, from_validation
from realtime.models import Article, CommentIn, CommentPage, SortedPage
from realtime.service import CommentService
from realtime.web import csrf
from realtime.web.comment_form import (
    FIELDS,
    FormState,
    error_text,
    explain,
    parse_fields,
    parse_parent,
)
from realtime.web.comment_form import validate as check_form
from realtime.web.files import static_dir, templates_dir
from realtime.web.http import read_body, resource, service
from realtime.web.i18n import LANGUAGES, Translator, load_catalogs
from realtime.web.markup import identicon
from realtime.web.thread_view import count_label, gap, heading, sorted_gap, thread_tree

PAGE_SIZE = 50  # the first page static/thread.js shows (its PAGE_SIZE)
SORT_COOKIE = "rt_sort"  # the reader's order of the thread, remembered
SORTS = ("oldest", "newest", "top")
FORM_MEDIA = "application/x-www-form-urlencoded"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_encode = msgspec.json.Encoder().encode


def make_environment() -> Environment:
    """Templates from the package, autoescaped, with the markup helpers they need."""
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.globals.update(identicon=identicon)
    return env


def client_settings(settings: Settings) -> dict[str, int | str | bool]:
    """What the browser client checks before sending (also `GET /api/config`); `notify`: the
    server can send mail, so the form offers "notify me of replies"."""
    return {
        "edit_window_seconds": settings.edit_window_seconds,
        "author_max_chars": settings.author_max_chars,
        "body_max_chars": settings.body_max_chars,
        "email_max_chars": settings.email_max_chars,
        "votes": settings.votes,
        "format": settings.format,
        "notify": bool(settings.smtp_host),
    }


def script_json(value: Any) -> Markup:
    """JSON that cannot end its <script> element early (`</script>`, `<!--` are escaped)."""
    text = _encode(value).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


class Pages:
    def __init__(self, settings: Settings, headers: dict[str, str]) -> None:
        self.settings = settings
        self.headers = headers
        self.env = make_environment()
        catalogs = load_catalogs(static_dir() / "i18n")
        self.t = Translator(settings.language, catalogs[settings.language])
        self.catalog_bodies: dict[str, bytes] = {
            lang: _encode({"lang": lang, "messages": catalogs[lang]}) for lang in LANGUAGES
        }

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, methods=["GET"]),
            resource("/articles/{slug}", GET=self.article, POST=self.post),
            Route("/admin", self.admin, methods=["GET"]),
            Route("/i18n.json", self.catalog, methods=["GET"]),
        ]

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render({"t": self.t, "state": None, **context})
        return HTMLResponse(html, status, headers=self.headers)

    # ---- pages -------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        articles = await service(request).articles()
        return self.render(
            "index.html", articles=articles, count_label=lambda n: count_label(n, self.t)
        )

    async def admin(self, request: Request) -> Response:
        return self.render("admin.html")

    async def catalog(self, request: Request) -> Response:
        """`{"lang", "messages"}` for `?lang=` (else the site's language). Readable from any
        origin: an embed on a refused site can still say, in its language, that it is refused."""
        lang = request.query_params.get("lang", "")
        body = self.catalog_bodies.get(lang) or self.catalog_bodies[self.settings.language]
        headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"}
        return Response(body, headers=headers, media_type="application/json")

    def not_found(self) -> Response:
        return self.message_page(
            404, self.t.t("site.not_found_title"), self.t.t("site.not_found"), "/"
        )

    def message_page(self, status: int, title: str, message: str, back: str) -> Response:
        back_text = self.t.t("site.back_home" if back == "/" else "form.back_to_article")
        return self.render(
            "error.html",
            status,
            heading=title,
            message=message,
            back_href=back,
            back_text=back_text,
        )

    async def article(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        try:
            article = await service(request).article(slug)
        except NotFound:
            return self.not_found()
        nonce = request.cookies.get(csrf.COOKIE, "")
        fresh = not _NONCE.match(nonce)
        nonce = csrf.new_nonce() if fresh else nonce
        form = FormState(csrf=csrf.token_for(self.csrf_key(request), nonce))
        form.notify = bool(self.settings.smtp_host)
        if "posted" in request.query_params:
            form.notice = self.t.t("form.posted")
        elif "held" in request.query_params:
            form.notice = self.t.t("form.held")
        reply = _int_or_none(request.query_params.get("reply"))
        await self.reply_to(request, slug, reply, form)
        response = await self.thread_page(request, article, form)
        if fresh:
            response.headers.append(
                "Set-Cookie", csrf.cookie_header(nonce, request.url.scheme == "https")
            )
        return response

    async def thread_page(
        self, request: Request, article: Article, form: FormState, status: int = 200
    ) -> Response:
        """The thread in the reader's order: `oldest` pages every comment in id order (the
        contract's page, replies under parents on it); `newest` and `top` page threads."""
        sort = _sort(request)
        after = max(0, _int_or_none(request.query_params.get("after")) or 0)
        svc = service(request)
        page: CommentPage | SortedPage
        if sort == "oldest":
            page = await svc.page(article.slug, after, PAGE_SIZE)
            tree, more = thread_tree(page.comments, after, self.t), gap(page, after, self.t)
        else:
            cursor = request.query_params.get("cursor") or None
            try:
                page = await svc.sorted_page(article.slug, sort, (None, None), cursor, PAGE_SIZE)
            except (Invalid, NotFound):  # a stale or edited cursor: the first page
                page = await svc.sorted_page(article.slug, sort, (None, None), None, PAGE_SIZE)
            after = 0
            tree, more = thread_tree(page.comments, 0, self.t), sorted_gap(page, self.t)
        state = {
            "lang": self.t.lang,
            "article": article,
            "page": page,
            "after": after,
            "sort": sort,
            "reply": form.parent,
            "pageSize": PAGE_SIZE,
            "config": client_settings(self.settings),
        }
        response = self.render(
            "article.html",
            status,
            article=article,
            heading=heading(page.count, article.title, self.t),
            tree=tree,
            gap=more,
            after=after,
            sort=sort,
            votes=self.settings.votes,
            fmt=self.settings.format,
            form=form,
            now=datetime.now(UTC),
            state=script_json(state),
        )
        if request.query_params.get("sort") in SORTS:
            response.set_cookie(SORT_COOKIE, sort, max_age=31_536_000, samesite="lax")
        return response

    async def reply_to(
        self, request: Request, slug: str, parent: int | None, form: FormState
    ) -> None:
        """A reply's parent, if it is a comment of this article (else a new comment)."""
        if parent is None:
            return
        try:
            comment = await service(request).comment(parent)
        except AppError:
            return
        if comment.article == slug:
            form.parent, form.parent_author = comment.id, comment.author

    def csrf_key(self, request: Request) -> bytes:
        return csrf.derive_key(service(request).store.avatar_key)

    # ---- the form ----------------------------------------------------------------------------

    async def post(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        svc = service(request)
        try:
            article = await svc.article(slug)
        except NotFound:
            return self.not_found()
        back = f"/articles/{slug}"
        headers = request.headers
        if not csrf.same_origin(own_origin(request), headers.get("origin"), headers.get("referer")):
            return self.refused(back)
        try:
            fields = parse_fields(await read_body(request, FORM_MEDIA))
        except AppError as error:
            return self.message_page(
                error.status, self.t.t("form.csrf_title"), error_text(error, self.t), back
            )
        token = fields.get(csrf.FIELD)
        if not csrf.token_matches(self.csrf_key(request), request.cookies.get(csrf.COOKIE), token):
            return self.refused(back)
        form = FormState(csrf=token or "", values={name: fields.get(name, "") for name in FIELDS})
        form.notify = bool(self.settings.smtp_host)
        status, created = await self.submit(request, svc, slug, fields, form)
        if form.failed or created is None:
            await self.reply_to(request, slug, form.parent, form)
            return await self.thread_page(request, article, form, status)
        return RedirectResponse(await self.landing(svc, slug, *created), 303)

    async def submit(
        self,
        request: Request,
        svc: CommentService,
        slug: str,
        fields: dict[str, str],
        form: FormState,
    ) -> tuple[int, tuple[int, str] | None]:
        """Check and post; (status, None) with the form's errors set, or (201, (id, status))."""
        try:
            form.parent = parse_parent(fields.get("parent"))
        except Invalid as error:
            explain(error, form, self.t)
            return 422, None
        form.errors = check_form(form.values, self.settings, self.t)
        if form.errors:
            return 422, None
        email = form.values["email"].strip()
        raw = {
            "author": form.values["author"],
            "body": form.values["body"],
            "email": email or None,
            "parent": form.parent,
            "website": fields.get("website"),
            "notify": form.notify and bool(email) and bool(form.values["notify"]),
        }
        address = request.client.host if request.client else "unknown"
        try:
            created = await svc.post(slug, msgspec.convert(raw, CommentIn), address)
        except msgspec.ValidationError as exc:
            explain(from_validation(exc), form, self.t)
            return 422, None
        except AppError as error:
            explain(error, form, self.t)
            return error.status, None
        return 201, (created.comment.id, created.status)

    async def landing(self, svc: CommentService, slug: str, comment_id: int, status: str) -> str:
        """Where the reader lands after posting: the new comment, or the form's notice."""
        base = f"/articles/{slug}"
        if status == "pending":
            return f"{base}?held=1#rt-form"
        first = await svc.page(slug, 0, PAGE_SIZE)
        on_first = any(comment.id == comment_id for comment in first.comments)
        page = "" if on_first else f"&after={comment_id - 1}"
        return f"{base}?posted={comment_id}{page}#comment-{comment_id}"

    def refused(self, back: str) -> Response:
        """A post from another site, or without this page's token: nothing changes."""
        return self.message_page(403, self.t.t("form.csrf_title"), self.t.t("form.csrf"), back)


def _sort(request: Request) -> str:
    """The order asked for (?sort=), else the one remembered (cookie), else oldest."""
    for candidate in (request.query_params.get("sort"), request.cookies.get(SORT_COOKIE)):
        if candidate in SORTS:
            return candidate
    return "oldest"


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() and len(raw) <= 18 else None
