"""HTTP endpoints: parse the request, call the service, encode the answer with msgspec."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.errors import BadRequest, Invalid, PayloadTooLarge, UnsupportedMedia, from_validation
from realtime.models import (
    ID_MAX,
    ArticleIn,
    ArticleList,
    CommentEdit,
    CommentIn,
    Counts,
    Health,
    PendingList,
    PreviewIn,
    VoteIn,
)
from realtime.moderators import Actor, hash_token
from realtime.service import CommentService, slug_list
from realtime.web.counts_cache import CountsCache

T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]
EXACT_FLOAT_MAX = 2**53  # every integer up to here has an exact float
_encode = msgspec.json.Encoder().encode
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(value), status, headers, media_type="application/json")


def service(request: Request) -> CommentService:
    found: CommentService = request.app.state.service
    return found


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def read_json(request: Request, kind: type[T]) -> T:
    """Strict decode of a bounded JSON body: 415, 413, 400 or 422, never a 500."""
    body = await read_body(request, "application/json")
    try:
        return _decode(body, kind)
    except msgspec.ValidationError as exc:
        raise from_validation(exc) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None


async def read_body(request: Request, media_type: str) -> bytes:
    """The body, if it is of `media_type` (else 415) and within `max_request_bytes` (else 413,
    whether the size is declared or only streamed)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != media_type:
        raise UnsupportedMedia(f"send the body as {media_type}")
    limit = request.app.state.settings.max_request_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is over {limit} bytes")
    return bytes(body)


def _decode(body: bytes | bytearray, kind: type[T]) -> T:
    decoder = _decoders.setdefault(kind, msgspec.json.Decoder(kind))
    try:
        value: T = decoder.decode(body)
    except msgspec.ValidationError as exc:
        if "got `float`" not in str(exc):
            raise
        try:
            value = msgspec.convert(_integral_as_int(msgspec.json.decode(body)), kind)
        except msgspec.ValidationError as again:
            # "got `int`": a float the second look made whole, where no number belongs.
            raise exc if "got `int`" in str(again) else again from None
    return value


def _integral_as_int(value: Any) -> Any:
    """JSON Schema's `integer` is any number with an integral value (`293135.0`, `2.93e5`), but
    msgspec's strict decoding takes only integer literals: a second look, on that error only.
    Past 2**53 a float no longer says which integer was meant, so it stays refused."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= EXACT_FLOAT_MAX:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_as_int(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_as_int(item) for item in value]
    return value


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be an integer", name) from None
    if abs(value) > ID_MAX:
        raise Invalid(f"{name} is out of range", name)
    return value


def optional_int(request: Request, name: str) -> int | None:
    return int_param(request, name, 0) if name in request.query_params else None


def path_id(request: Request) -> int:
    """The `{id}` path parameter as a positive integer."""
    raw = request.path_params["id"]
    if not raw.isdigit() or int(raw) > ID_MAX:
        raise Invalid("comment id must be a positive integer", "id")
    return int(raw)


# ---- endpoints -------------------------------------------------------------------------------


async def healthz(request: Request) -> Response:
    await service(request).store.ping()
    return json_response(Health("ok"))


async def list_articles(request: Request) -> Response:
    return json_response(ArticleList(await service(request).articles()))


async def get_article(request: Request) -> Response:
    return json_response(await service(request).article(request.path_params["slug"]))


async def put_article(request: Request) -> Response:
    svc = service(request)
    await svc.moderators.owner(bearer(request))
    data = await read_json(request, ArticleIn)
    article, created = await svc.put_article(request.path_params["slug"], data)
    return json_response(article, 201 if created else 200)


async def list_comments(request: Request) -> Response:
    svc = service(request)
    limit = int_param(request, "limit", svc.settings.page_limit_default)
    slug = request.path_params["slug"]
    query = request.query_params
    ids = optional_int(request, "after"), optional_int(request, "before")
    if {"sort", "before", "cursor"} & set(query):  # pages of threads (an addition)
        page = await svc.sorted_page(slug, query.get("sort"), ids, query.get("cursor"), limit)
        return json_response(page)
    after = int_param(request, "after", 0)  # the contract's page
    return json_response(await svc.page(slug, after, limit))


async def recent_comments(request: Request) -> Response:
    return json_response(await service(request).recent(int_param(request, "limit", 20)))


async def vote(request: Request) -> Response:
    comment_id = path_id(request)
    data = await read_json(request, VoteIn)
    address = client_address(request)
    token = bearer(request)
    author = hash_token(token) if token else None
    return json_response(await service(request).votes.vote(comment_id, data, address, author))


async def preview(request: Request) -> Response:
    data = await read_json(request, PreviewIn)
    return json_response(service(request).preview(data.body))


def client_address(request: Request) -> str:
    """The client as the limits and bans see it: uvicorn has already replaced the peer with
    X-Forwarded-For when the peer is one of the `trusted_proxies`."""
    return request.client.host if request.client else "unknown"


async def post_comment(request: Request) -> Response:
    data = await read_json(request, CommentIn)
    address = client_address(request)
    created = await service(request).post(request.path_params["slug"], data, address)
    kind = "comments" if created.status == "published" else "admin/pending"
    return json_response(created, 201, {"Location": f"/api/{kind}/{created.comment.id}"})


async def get_comment(request: Request) -> Response:
    return json_response(await service(request).comment(path_id(request)))


async def patch_comment(request: Request) -> Response:
    comment_id = path_id(request)
    data = await read_json(request, CommentEdit)
    return json_response(await service(request).edit(comment_id, data, bearer(request)))


async def delete_comment(request: Request) -> Response:
    await service(request).delete(path_id(request), bearer(request))
    return Response(status_code=204)


async def counts(request: Request) -> Response:
    raw = request.query_params.get("articles", "")
    cache: CountsCache = request.app.state.counts_cache
    body = cache.get(raw)
    if body is None:
        slugs = slug_list(raw)
        changes = cache.changes
        body = _encode(Counts(await service(request).counts(slugs)))
        cache.put(raw, slugs, body, changes)
    return Response(body, media_type="application/json")


# ---- moderation (the admin token or a moderator's) -------------------------------------------


async def moderator(request: Request) -> Actor:
    """Who is moderating: 401 without a token or with a revoked one, 403 with another."""
    return await service(request).moderators.authenticate(bearer(request))


async def list_pending(request: Request) -> Response:
    await moderator(request)
    slug = request.query_params.get("article")
    return json_response(PendingList(await service(request).moderation.pending(slug)))


async def approve_pending(request: Request) -> Response:
    actor = await moderator(request)
    return json_response(await service(request).moderation.approve(path_id(request), actor))


async def reject_pending(request: Request) -> Response:
    actor = await moderator(request)
    await service(request).moderation.reject(path_id(request), actor)
    return Response(status_code=204)


async def pin_comment(request: Request) -> Response:
    actor = await moderator(request)
    pinned = request.url.path.endswith("/pin")
    moderation = service(request).moderation
    return json_response(await moderation.set_pinned(path_id(request), pinned, actor))


async def close_article(request: Request) -> Response:
    actor = await moderator(request)
    closed = request.url.path.endswith("/close")
    slug = request.path_params["slug"]
    return json_response(await service(request).moderation.set_closed(slug, closed, actor))


def not_recent(handler: Endpoint) -> Endpoint:
    """`/api/comments/recent` takes GET only; its other methods would otherwise reach
    `/api/comments/{id}` (a route that takes them) instead of answering 405."""

    async def endpoint(request: Request) -> Response:
        if request.path_params["id"] == "recent":
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        return await handler(request)

    return endpoint


def resource(path: str, **handlers: Endpoint) -> Route:
    """One route for all the methods of a path (`GET=…, PUT=…`), so that a 405's `Allow` lists
    every method the resource takes (and HEAD wherever GET is)."""
    by_method = dict(handlers)
    methods = list(by_method)
    if "GET" in by_method:
        by_method["HEAD"] = by_method["GET"]

    async def dispatch(request: Request) -> Response:
        return await by_method[request.method](request)

    return Route(path, dispatch, methods=methods)


routes = [
    Route("/healthz", healthz),
    Route("/api/articles", list_articles),
    resource("/api/articles/{slug}", GET=get_article, PUT=put_article),
    resource("/api/articles/{slug}/comments", GET=list_comments, POST=post_comment),
    resource("/api/comments/recent", GET=recent_comments),
    resource(
        "/api/comments/{id}",
        GET=get_comment,
        PATCH=not_recent(patch_comment),
        DELETE=not_recent(delete_comment),
    ),
    resource("/api/comments/{id}/vote", POST=vote),
    resource("/api/preview", POST=preview),
    Route("/api/counts", counts),
    Route("/api/admin/pending", list_pending, methods=["GET"]),
    Route("/api/admin/pending/{id}/approve", approve_pending, methods=["POST"]),
    Route("/api/admin/pending/{id}/reject", reject_pending, methods=["POST"]),
    Route("/api/admin/comments/{id}/pin", pin_comment, methods=["POST"]),
    Route("/api/admin/comments/{id}/unpin", pin_comment, methods=["POST"]),
    Route("/api/admin/articles/{slug}/close", close_article, methods=["POST"]),
    Route("/api/admin/articles/{slug}/reopen", close_article, methods=["POST"]),
]
