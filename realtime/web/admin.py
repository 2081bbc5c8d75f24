"""HTTP endpoints of moderators and the owner: the audit trail, bans, word lists, and a
commenter's data. Every one checks the bearer first (401 without one or with a revoked one).

E-mail addresses come in request bodies, never in URLs, which access logs would keep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.config import ConfigError, Settings
from realtime.errors import Invalid
from realtime.models import BanIn, CommenterIn, ForgetIn, WordLists
from realtime.moderators import Actor
from realtime.service import CommentService
from realtime.store.bans import Source
from realtime.web.http import bearer, int_param, json_response, path_id, read_json, service

ReloadSettings = Callable[[], Settings]


class Who(msgspec.Struct):
    """`GET /api/admin/me`: who the token belongs to."""

    name: str
    owner: bool


async def moderator(request: Request) -> tuple[CommentService, Actor]:
    svc = service(request)
    return svc, await svc.moderators.authenticate(bearer(request))


async def owner(request: Request) -> tuple[CommentService, Actor]:
    svc = service(request)
    return svc, await svc.moderators.owner(bearer(request))


def optional_id(request: Request, name: str) -> int | None:
    return int_param(request, name, 0) or None


# ---- who, and what they did ------------------------------------------------------------------


async def me(request: Request) -> Response:
    _, actor = await moderator(request)
    return json_response(Who(actor.name, actor.is_owner))


async def audit(request: Request) -> Response:
    svc, _ = await moderator(request)
    before = optional_id(request, "before")
    limit = int_param(request, "limit", 50)
    return json_response(await svc.moderators.audit(before, limit))


# ---- bans ------------------------------------------------------------------------------------


def ban_from(source: Source) -> Callable[[Request], Awaitable[Response]]:
    """`POST /api/admin/{comments|pending}/{id}/ban`: ban the poster of that comment."""

    async def endpoint(request: Request) -> Response:
        svc, actor = await moderator(request)
        source_id = path_id(request)
        data = await read_json(request, BanIn)
        return json_response(await svc.bans.ban(source, source_id, data, actor), 201)

    return endpoint


async def list_bans(request: Request) -> Response:
    svc, _ = await moderator(request)
    query = request.query_params
    found = await svc.bans.search(
        query.get("q", "")[:200],
        everything=query.get("all") in ("1", "true"),
        before=optional_id(request, "before"),
        limit=int_param(request, "limit", 100),
    )
    return json_response(found)


async def lift_ban(request: Request) -> Response:
    svc, actor = await moderator(request)
    return json_response(await svc.bans.lift(path_id(request), actor))


# ---- word lists ------------------------------------------------------------------------------


def word_lists(svc: CommentService) -> WordLists:
    return WordLists(svc.words.hold.entries, svc.words.refuse.entries)


async def get_words(request: Request) -> Response:
    svc, _ = await moderator(request)
    return json_response(word_lists(svc))


async def reload_words(request: Request) -> Response:
    svc, _ = await moderator(request)
    reload: ReloadSettings = request.app.state.reload_settings
    try:
        svc.reload_words(reload())
    except ConfigError as exc:
        raise Invalid(f"the settings were not reloaded: {exc}", "config") from None
    return json_response(word_lists(svc))


# ---- a commenter's data (the owner only) -----------------------------------------------------


async def forget(request: Request) -> Response:
    svc, actor = await owner(request)
    data = await read_json(request, ForgetIn)
    return json_response(await svc.privacy.forget(data, actor))


async def export(request: Request) -> Response:
    svc, _ = await owner(request)
    data = await read_json(request, CommenterIn)
    return json_response(await svc.privacy.export(data.email))


routes = [
    Route("/api/admin/me", me, methods=["GET"]),
    Route("/api/admin/audit", audit, methods=["GET"]),
    Route("/api/admin/comments/{id}/ban", ban_from("comments"), methods=["POST"]),
    Route("/api/admin/pending/{id}/ban", ban_from("pending"), methods=["POST"]),
    Route("/api/admin/bans", list_bans, methods=["GET"]),
    Route("/api/admin/bans/{id}", lift_ban, methods=["DELETE"]),
    Route("/api/admin/words", get_words, methods=["GET"]),
    Route("/api/admin/words/reload", reload_words, methods=["POST"]),
    Route("/api/admin/forget", forget, methods=["POST"]),
    Route("/api/admin/export", export, methods=["POST"]),
]
