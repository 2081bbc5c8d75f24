"""Endpoints of notifications: the pages the signed links in mails open, and the admin's list of
dead notifications.

A link (`/notify/{purpose}?token=…`) answers GET with a small page that says what it will do and
has one button; the button POSTs to the same URL, which does it. Nothing changes on GET, because
mail scanners open links. `/notify/unsubscribe` takes the RFC 8058 one-click POST
(`List-Unsubscribe=One-Click`) too: the POST needs no particular body. A bad or expired token is
a 403 in the API's error shape, with nothing changed.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from realtime.errors import NotFound
from realtime.models import NotificationList
from realtime.notify import PURPOSES, Links, Purpose
from realtime.web.http import bearer, json_response, path_id, service

QUESTIONS: dict[Purpose, tuple[str, str]] = {
    "confirm": ("Confirm your e-mail address", "Confirm"),
    "unsubscribe": ("Stop e-mails about replies", "Unsubscribe"),
    "approve": ("Approve this comment", "Approve"),
    "reject": ("Reject this comment", "Reject"),
}
DONE: dict[Purpose, str] = {
    "confirm": "Thank you: you will get an e-mail when someone replies to your comment.",
    "unsubscribe": "Done: no more e-mails about replies will be sent to this address.",
    "approve": "The comment is approved and published.",
    "reject": "The comment is rejected.",
}


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
    title, button = QUESTIONS[purpose]
    if purpose in ("approve", "reject"):
        comment = await links.held(purpose, token)
        shown = f"<blockquote><p><strong>{html.escape(comment.author)}</strong></p>"
        shown += "".join(f"<p>{html.escape(part)}</p>" for part in comment.body.split("\n\n"))
        shown += "</blockquote>"
    else:
        links.check(purpose, token)
        shown = ""
    form = f'<form method="post"><button type="submit" class="rt-button">{button}</button></form>'
    return _page(request, title, shown + form)


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
    return _page(request, QUESTIONS[purpose][0], f"<p>{DONE[purpose]}</p>")


def _page(request: Request, title: str, content: str) -> Response:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex"><link rel="icon" href="data:,">'
        f"<title>{html.escape(title)} · Realtime</title>"
        '<link rel="stylesheet" href="/static/site.css">'
        '<link rel="stylesheet" href="/static/comments.css"></head>'
        f'<body><main class="wrap rt"><h1>{html.escape(title)}</h1>{content}</main></body></html>'
    )
    return HTMLResponse(text, headers=request.app.state.page_headers)


# ---- admin: dead notifications -----------------------------------------------------------------


async def list_dead(request: Request) -> Response:
    svc = service(request)
    svc.require_admin(bearer(request))
    return json_response(NotificationList(await svc.notifier.dead()))


async def retry_dead(request: Request) -> Response:
    svc = service(request)
    svc.require_admin(bearer(request))
    return json_response(await svc.notifier.retry(path_id(request)))


routes = [
    Route("/notify/{purpose}", link_page, methods=["GET"]),
    Route("/notify/{purpose}", link_action, methods=["POST"]),
    Route("/api/admin/notifications", list_dead, methods=["GET"]),
    Route("/api/admin/notifications/{id}/retry", retry_dead, methods=["POST"]),
]
