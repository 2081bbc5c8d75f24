"""Endpoints of notifications: the pages the signed links in mails open, and the admin's list of
dead notifications.

A link (`/notify/{purpose}?token=…`) answers GET with a small page that says what it will do and
has one button; the button POSTs to the same URL, which does it. Nothing changes on GET, because
mail scanners open links. `/notify/unsubscribe` takes the RFC 8058 one-click POST
(`List-Unsubscribe=One-Click`) too: the POST needs no particular body. A bad or expired token is
a 403 in the API's error shape, with nothing changed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.errors import NotFound
from realtime.models import NotificationList, PendingComment
from realtime.notify import PURPOSES, Links, Purpose
from realtime.web.admin import moderator
from realtime.web.http import json_response, path_id, resource, service
from realtime.web.pages import Pages


def _purpose(request: Request) -> Purpose:
    name = request.path_params["purpose"]
    for purpose in PURPOSES:
        if purpose == name:
            return purpose
    raise NotFound("no such endpoint")


def _links(request: Request) -> Links:
    return service(request).links


async def link_page(request: Request) -> Response:
    """GET: check the token and ask; the button posts back here."""
    purpose = _purpose(request)
    token = request.query_params.get("token", "")
    links = _links(request)
    comment = None
    if purpose in ("approve", "reject"):
        comment = await links.held(purpose, token)
    else:
        links.check(purpose, token)
    return _page(request, purpose, comment=comment)


async def link_action(request: Request) -> Response:
    """POST: do it (also the one-click unsubscribe of RFC 8058)."""
    purpose = _purpose(request)
    token = request.query_params.get("token", "")
    links = _links(request)
    match purpose:
        case "confirm":
            await links.confirm(token)
        case "unsubscribe":
            await links.unsubscribe(token)
        case "approve":
            await links.approve(token)
        case "reject":
            await links.reject(token)
    return _page(request, purpose, done=True)


def _page(
    request: Request, purpose: Purpose, comment: PendingComment | None = None, done: bool = False
) -> Response:
    pages: Pages = request.app.state.pages
    t = pages.t.t
    return pages.render(
        "notify_link.html",
        heading=t(f"notify.{purpose}_title"),
        button=t(f"notify.{purpose}_button"),
        done=t(f"notify.{purpose}_done") if done else None,
        comment=comment,
    )


# ---- admin: dead notifications -----------------------------------------------------------------


async def list_dead(request: Request) -> Response:
    svc, _ = await moderator(request)
    return json_response(NotificationList(await svc.notifier.dead()))


async def retry_dead(request: Request) -> Response:
    """A moderation action like any other: audited with who retried it."""
    svc, actor = await moderator(request)
    note = actor.note("notification-retry", svc.clock())
    return json_response(await svc.notifier.retry(path_id(request), note))


routes = [
    resource("/notify/{purpose}", GET=link_page, POST=link_action),
    Route("/api/admin/notifications", list_dead, methods=["GET"]),
    Route("/api/admin/notifications/{id}/retry", retry_dead, methods=["POST"]),
]
