"""HTTP endpoints: parse the request, call the service, encode the answer with msgspec."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
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
)
from realtime.moderators import Actor
from realtime.service import CommentService, slug_list

T = TypeVar("T")
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
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMedia("send the body as application/json")
    limit = request.app.state.settings.max_request_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is over {limit} bytes")
    decoder = _decoders.setdefault(kind, msgspec.json.Decoder(kind))
    try:
        value: T = decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise from_validation(exc) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None
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
    after = int_param(request, "after", 0)
    limit = int_param(request, "limit", svc.settings.page_limit_default)
    return json_response(await svc.page(request.path_params["slug"], after, limit))


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
    slugs = slug_list(request.query_params.get("articles", ""))
    return json_response(Counts(await service(request).counts(slugs)))


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


async def close_article(request: Request) -> Response:
    actor = await moderator(request)
    closed = request.url.path.endswith("/close")
    slug = request.path_params["slug"]
    return json_response(await service(request).moderation.set_closed(slug, closed, actor))


routes = [
    Route("/healthz", healthz),
    Route("/api/articles", list_articles),
    Route("/api/articles/{slug}", get_article, methods=["GET"]),
    Route("/api/articles/{slug}", put_article, methods=["PUT"]),
    Route("/api/articles/{slug}/comments", list_comments, methods=["GET"]),
    Route("/api/articles/{slug}/comments", post_comment, methods=["POST"]),
    Route("/api/comments/{id}", get_comment, methods=["GET"]),
    Route("/api/comments/{id}", patch_comment, methods=["PATCH"]),
    Route("/api/comments/{id}", delete_comment, methods=["DELETE"]),
    Route("/api/counts", counts),
    Route("/api/admin/pending", list_pending, methods=["GET"]),
    Route("/api/admin/pending/{id}/approve", approve_pending, methods=["POST"]),
    Route("/api/admin/pending/{id}/reject", reject_pending, methods=["POST"]),
    Route("/api/admin/articles/{slug}/close", close_article, methods=["POST"]),
    Route("/api/admin/articles/{slug}/reopen", close_article, methods=["POST"]),
]
