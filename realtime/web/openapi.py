"""The OpenAPI 3.1 document of the HTTP API, built from the msgspec Structs in `models`.

`OPERATIONS` lists every endpoint of `http.routes` once, with what it takes and what it answers;
`build_document()` turns that table into the document (schemas from
`msgspec.json.schema_components`, so the document cannot drift from what the server decodes).
A test checks that every route is in the table. `openapi_route()` builds and encodes the
document once, when `create_app` makes the route; each request gets the same bytes.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime import __version__
from realtime.models import (
    COUNTS_MAX,
    PAGE_MAX,
    RECENT_MAX,
    SLUG_PATTERN,
    Article,
    ArticleIn,
    ArticleList,
    Comment,
    CommentCreated,
    CommentEdit,
    CommentIn,
    CommentPage,
    Counts,
    ErrorBody,
    Health,
    Notification,
    NotificationList,
    PendingList,
    Preview,
    PreviewIn,
    RecentList,
    SortedPage,
    VoteIn,
    VoteResult,
    WebhookEvent,
)
from realtime.web import openapi_admin
from realtime.web.operation import BODY_ERRORS, ID_MAX, Operation

SCHEMAS = "#/components/schemas/{name}"
EXAMPLE_SLUG = "nato-annual-report"
OPTIONAL_SLUG = f"^({SLUG_PATTERN[1:-1]})?$"


ERROR_MEANINGS = {
    400: "a request that is not valid HTTP/1.1 (any operation), malformed JSON or invalid UTF-8",
    401: "no bearer token, or a revoked moderator's token",
    403: "admin endpoints disabled, a token that does not grant this, a banned poster, or an "
    "article closed to new comments",
    404: "unknown article or comment",
    409: "a parent that is not there or in another article, the same comment twice in a row, or"
    " a ban on what the comment no longer keeps",
    413: "request body over the configured bound",
    415: "request body is not application/json",
    422: "a field or parameter out of bounds (named in `field`)",
    429: "rate limited (see Retry-After)",
    503: "the database cannot take the write right now (see Retry-After), or the database file"
    " is gone from under the server; nothing was written",
}
ATOM = "application/atom+xml"
SUCCESS = {201: "created", 304: "not modified: the If-None-Match ETag is current (no body)"}

PARAMETERS: dict[str, dict[str, Any]] = {
    "slug": {
        "name": "slug",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": SLUG_PATTERN},
        "example": EXAMPLE_SLUG,
    },
    "id": {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "a comment's id (under /api/admin/pending: a held comment's; under"
        " /api/admin/bans: a ban's)",
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
        "example": 1,
    },
    "after": {
        "name": "after",
        "in": "query",
        "description": "only comments with a larger id (the previous page's `next`)",
        "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX, "default": 0},
    },
    "thread_before": {  # not "before": the audit log's `before` (openapi_admin) has its own
        "name": "before",
        "in": "query",
        "description": "pages of threads before this comment id (in top: before its place); "
        "wins over `after`",
        "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX},
    },
    "sort": {
        "name": "sort",
        "in": "query",
        "description": "pages of threads (each root with all its replies) in this order; the"
        " answer is then a SortedPage (also with `before` or `cursor`, in oldest or the"
        " cursor's order). Without any of them: every comment in id order (CommentPage)",
        "schema": {"type": "string", "enum": ["oldest", "newest", "top"]},
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "description": "a SortedPage's `cursor` or `prev`, as it was given (wins over `after`"
        " and `before`); one this server did not give, or of another sort, is 404",
        "schema": {"type": "string"},
    },
    "recent_limit": {
        "name": "limit",
        "in": "query",
        "description": f"how many; outside 1-{RECENT_MAX} the answer is 422",
        "schema": {"type": "integer", "minimum": 1, "maximum": RECENT_MAX, "default": 20},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "description": f"page size; outside 1-{PAGE_MAX} the answer is 422, not a clamped page",
        "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 100},
    },
    "article": {
        "name": "article",
        "in": "query",
        "description": "only the comments held for this article",
        "schema": {"type": "string"},
    },
    "token": {
        "name": "token",
        "in": "query",
        "required": True,
        "description": "the signed token from the link in the mail",
        "schema": {"type": "string"},
    },
    "purpose": {
        "name": "purpose",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["confirm", "unsubscribe", "approve", "reject"]},
    },
    "if_none_match": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "the ETag of an earlier answer: 304 and no body while it is current",
        "schema": {"type": "string"},
    },
    "articles": {
        "name": "articles",
        "in": "query",
        # No maxItems: the server counts distinct slugs, so 201 copies of one slug are fine.
        "description": f"comma-separated article slugs, at most {COUNTS_MAX} distinct ones"
        " (more: 422); empty parts are ignored",
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "items": {"type": "string", "pattern": OPTIONAL_SLUG}},
        "example": [EXAMPLE_SLUG],
    },
}

# OpenAPI links: which values of a success answer later requests can use (schemathesis's stateful
# phase follows them), keyed by the operation that answers. Each is the target operation and its
# parameters as runtime expressions; an author's token goes in as that comment's bearer token.
_SLUG = {"slug": "$response.body#/slug"}
_POSTED = "$response.body#/comment/id"
_AUTHOR = {"id": _POSTED, "header.Authorization": "Bearer {$response.body#/token}"}
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "put_article": {
        "GetArticle": {"operationId": "get_article", "parameters": _SLUG},
        "ListComments": {"operationId": "list_comments", "parameters": _SLUG},
        "PostComment": {"operationId": "post_comment", "parameters": _SLUG},
        "CloseArticle": {"operationId": "close_article", "parameters": _SLUG},
    },
    "close_article": {"ReopenArticle": {"operationId": "reopen_article", "parameters": _SLUG}},
    "reopen_article": {"PostComment": {"operationId": "post_comment", "parameters": _SLUG}},
    "post_comment": {
        "GetComment": {"operationId": "get_comment", "parameters": {"id": _POSTED}},
        "EditComment": {"operationId": "patch_comment", "parameters": _AUTHOR},
        "DeleteComment": {"operationId": "delete_comment", "parameters": _AUTHOR},
        "Reply": {
            "operationId": "post_comment",
            "parameters": {"slug": "$response.body#/comment/article"},
            "requestBody": {"parent": _POSTED},
        },
        # A held comment's id is its id in the moderation queue.
        "ApproveHeld": {"operationId": "approve_pending", "parameters": {"id": _POSTED}},
        "RejectHeld": {"operationId": "reject_pending", "parameters": {"id": _POSTED}},
    },
    "patch_comment": {
        "GetEdited": {"operationId": "get_comment", "parameters": {"id": "$response.body#/id"}}
    },
    "list_comments": {
        "GetFirst": {
            "operationId": "get_comment",
            "parameters": {"id": "$response.body#/comments/0/id"},
        }
    },
    "list_pending": {
        "ApproveFirst": {
            "operationId": "approve_pending",
            "parameters": {"id": "$response.body#/pending/0/id"},
        }
    },
    "approve_pending": {
        "GetApproved": {"operationId": "get_comment", "parameters": {"id": "$response.body#/id"}}
    },
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="healthz",
        method="get",
        path="/healthz",
        summary="The server and its database answer",
        response=Health,
        errors=(503,),
    ),
    Operation(
        name="list_articles",
        method="get",
        path="/api/articles",
        summary="All articles, newest first",
        response=ArticleList,
    ),
    Operation(
        name="get_article",
        method="get",
        path="/api/articles/{slug}",
        summary="One article",
        response=Article,
        parameters=("slug",),
        errors=(404,),
    ),
    Operation(
        name="put_article",
        method="put",
        path="/api/articles/{slug}",
        summary="Create an article (201) or change its title and url (200); admin only",
        response=Article,
        ok=(200, 201),
        body=ArticleIn,
        parameters=("slug",),
        errors=(*BODY_ERRORS, 401, 403, 503),
        auth=True,
    ),
    Operation(
        name="list_comments",
        method="get",
        path="/api/articles/{slug}/comments",
        summary="A page of an article's published comments, ascending id (with sort: a page"
        " of threads in that order)",
        response=CommentPage,
        alternatives=(SortedPage,),
        parameters=("slug", "after", "limit", "sort", "thread_before", "cursor"),
        errors=(404, 422),
    ),
    Operation(
        name="post_comment",
        method="post",
        path="/api/articles/{slug}/comments",
        summary="Post a comment; 201 means it is committed to disk",
        response=CommentCreated,
        ok=(201,),
        body=CommentIn,
        parameters=("slug",),
        errors=(*BODY_ERRORS, 403, 404, 409, 429, 503),
    ),
    Operation(
        name="get_comment",
        method="get",
        path="/api/comments/{id}",
        summary="One published comment",
        response=Comment,
        parameters=("id",),
        errors=(404, 422),
    ),
    Operation(
        name="recent_comments",
        method="get",
        path="/api/comments/recent",
        summary="The site's newest published comments, newest first, with their articles' titles",
        response=RecentList,
        parameters=("recent_limit",),
        errors=(422,),
    ),
    Operation(
        name="vote",
        method="post",
        path="/api/comments/{id}/vote",
        summary="Vote a comment up (1) or down (-1), or take the vote back (0); one per voter",
        response=VoteResult,
        body=VoteIn,
        parameters=("id",),
        errors=(*BODY_ERRORS, 403, 404, 429, 503),
    ),
    Operation(
        name="preview",
        method="post",
        path="/api/preview",
        summary="The HTML a comment with this body would be shown as (nothing is stored)",
        response=Preview,
        body=PreviewIn,
        errors=BODY_ERRORS,
    ),
    Operation(
        name="patch_comment",
        method="patch",
        path="/api/comments/{id}",
        summary="Edit a comment (its author token within the edit window, or the admin)",
        response=Comment,
        body=CommentEdit,
        parameters=("id",),
        errors=(*BODY_ERRORS, 401, 403, 404, 503),
        auth=True,
    ),
    Operation(
        name="delete_comment",
        method="delete",
        path="/api/comments/{id}",
        summary="Delete a comment (its author token within the edit window, or the admin)",
        response=None,
        ok=(204,),
        parameters=("id",),
        errors=(401, 403, 404, 422, 503),
        auth=True,
    ),
    Operation(
        name="counts",
        method="get",
        path="/api/counts",
        summary="Published comment counts of many articles (unknown slugs count 0)",
        response=Counts,
        parameters=("articles",),
        errors=(422,),
    ),
    Operation(
        name="list_pending",
        method="get",
        path="/api/admin/pending",
        summary="Comments held for moderation, oldest first; admin only",
        response=PendingList,
        parameters=("article",),
        errors=(401, 403),
        auth=True,
    ),
    Operation(
        name="approve_pending",
        method="post",
        path="/api/admin/pending/{id}/approve",
        summary="Publish a held comment (it gets the next public id); admin only",
        response=Comment,
        parameters=("id",),
        errors=(401, 403, 404, 422, 503),
        auth=True,
    ),
    Operation(
        name="reject_pending",
        method="post",
        path="/api/admin/pending/{id}/reject",
        summary="Drop a held comment; admin only",
        response=None,
        ok=(204,),
        parameters=("id",),
        errors=(401, 403, 404, 422, 503),
        auth=True,
    ),
    Operation(
        name="pin_comment",
        method="post",
        path="/api/admin/comments/{id}/pin",
        summary="Pin a top-level comment to the top of its thread; admin only",
        response=Comment,
        parameters=("id",),
        errors=(401, 403, 404, 409, 422, 503),
        auth=True,
    ),
    Operation(
        name="unpin_comment",
        method="post",
        path="/api/admin/comments/{id}/unpin",
        summary="Unpin a comment; admin only",
        response=Comment,
        parameters=("id",),
        errors=(401, 403, 404, 409, 422, 503),
        auth=True,
    ),
    Operation(
        name="close_article",
        method="post",
        path="/api/admin/articles/{slug}/close",
        summary="Close an article to new comments; admin only",
        response=Article,
        parameters=("slug",),
        errors=(401, 403, 404, 503),
        auth=True,
    ),
    Operation(
        name="reopen_article",
        method="post",
        path="/api/admin/articles/{slug}/reopen",
        summary="Open a closed article to new comments again; admin only",
        response=Article,
        parameters=("slug",),
        errors=(401, 403, 404, 503),
        auth=True,
    ),
    Operation(
        name="notify_link_page",
        method="get",
        path="/notify/{purpose}",
        summary="The page a signed link in a mail opens: what it will do, and one button. "
        "Changes nothing",
        response=None,
        parameters=("purpose", "token"),
        errors=(403, 404),
        media="text/html",
    ),
    Operation(
        name="notify_link_action",
        method="post",
        path="/notify/{purpose}",
        summary="Do what the signed link says: confirm, unsubscribe (also the RFC 8058 "
        "one-click POST), approve or reject; no login or admin token",
        response=None,
        parameters=("purpose", "token"),
        errors=(403, 404, 503),
        media="text/html",
    ),
    Operation(
        name="site_feed",
        method="get",
        path="/feeds/comments.atom",
        summary="Atom feed of the site's newest published comments (`feed_size`), with an ETag",
        response=None,
        ok=(200, 304),
        parameters=("if_none_match",),
        media=ATOM,
    ),
    Operation(
        name="article_feed",
        method="get",
        path="/feeds/articles/{slug}.atom",
        summary="Atom feed of one article's newest published comments, with an ETag",
        response=None,
        ok=(200, 304),
        parameters=("slug", "if_none_match"),
        errors=(404,),
        media=ATOM,
    ),
    Operation(
        name="list_dead_notifications",
        method="get",
        path="/api/admin/notifications",
        summary="Notifications given up after their last attempt, with the last error; admin only",
        response=NotificationList,
        errors=(401, 403),
        auth=True,
    ),
    Operation(
        name="retry_notification",
        method="post",
        path="/api/admin/notifications/{id}/retry",
        summary="Send a dead notification again, with a fresh count of attempts; admin only",
        response=Notification,
        parameters=("id",),
        errors=(401, 403, 404, 422, 503),
        auth=True,
    ),
)

WEBHOOK_HEADERS = (
    "Each request carries `X-Realtime-Event` (the event), `X-Realtime-Delivery` (the "
    "idempotency key: the same on every attempt) and `X-Realtime-Signature: t=<unix seconds>,"
    'v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. Answer 2xx; anything else is retried.'
)


def _webhooks() -> dict[str, Any]:
    """OpenAPI 3.1 `webhooks`: one entry per event, each body a member of `WebhookEvent`."""
    hooks: dict[str, Any] = {}
    for kind in WebhookEvent.__args__:
        event = kind.__struct_config__.tag
        hooks[event] = {
            "post": {
                "summary": f"`{event}`",
                "description": WEBHOOK_HEADERS,
                "requestBody": {"required": True, "content": _json(kind)},
                "responses": {"200": {"description": "received (any 2xx)"}},
            }
        }
    return hooks


# The moderators' endpoints (`admin.routes`), kept in their own module for size.
assert not PARAMETERS.keys() & openapi_admin.PARAMETERS.keys()  # one name, one parameter
PARAMETERS.update(openapi_admin.PARAMETERS)
OPERATIONS = (*OPERATIONS, *openapi_admin.OPERATIONS)


def build_document(operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    """The whole document; every error status of an operation answers with `ErrorBody`."""
    kinds = {
        kind
        for op in operations
        for kind in (op.response, op.body, *op.alternatives)
        if kind is not None
    }
    kinds |= set(WebhookEvent.__args__)
    ordered = sorted(kinds | {ErrorBody}, key=lambda kind: kind.__name__)
    _, schemas = msgspec.json.schema_components(ordered, ref_template=SCHEMAS)
    inbound = {op.body.__name__ for op in operations if op.body is not None}
    for name, schema in schemas.items():
        if name not in inbound and "properties" in schema:
            # The server writes every field (no outbound Struct omits defaults): in a response
            # `Article.closed` or `ErrorDetail.field` is always there, null or not.
            schema["required"] = list(schema["properties"])
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "realtime",
            "version": __version__,
            "description": "Live comment threads: the HTTP API (the WebSockets are described in "
            "API.md). Every error answers with the ErrorBody shape.",
        },
        "paths": paths,
        "webhooks": _webhooks(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the admin token, a moderator's token, or the author token"
                    " a POST returned",
                }
            },
        },
    }


def _operation(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "responses": _responses(op),
    }
    if op.parameters:
        doc["parameters"] = [PARAMETERS[name] for name in op.parameters]
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": _json(op.body)}
    if op.auth:
        doc["security"] = [{"bearer": []}]
    return doc


def _responses(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in op.ok:
        success: dict[str, Any] = {"description": SUCCESS.get(status, "success")}
        if op.response is not None:
            success["content"] = _json(op.response, *op.alternatives)
        if op.media is not None and status != 304:
            success["content"] = {op.media: {"schema": {"type": "string"}}}
        if op.method == "post" and status == 201:
            success["headers"] = {
                "Location": {"description": "the new comment", "schema": {"type": "string"}}
            }
        if op.name in LINKS:
            success["links"] = LINKS[op.name]
        responses[str(status)] = success
    # Any request can be one the HTTP parser cannot read (`server.send_400_response`).
    for status in sorted({400, *op.errors}):
        responses[str(status)] = {
            "description": ERROR_MEANINGS[status],
            "content": _json(ErrorBody),
        }
    return responses


def _json(*kinds: type[Any]) -> dict[str, Any]:
    refs = [{"$ref": SCHEMAS.format(name=kind.__name__)} for kind in kinds]
    return {"application/json": {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}}


def openapi_route(path: str = "/openapi.json") -> Route:
    """`GET /openapi.json`: the document, encoded once here and served as the same bytes."""
    encoded = msgspec.json.encode(build_document())

    async def openapi_endpoint(request: Request) -> Response:
        return Response(encoded, media_type="application/json")

    return Route(path, openapi_endpoint, methods=["GET"])
