"""The OpenAPI 3.1 document of the HTTP API, built from the msgspec Structs in `models`.

`OPERATIONS` (the tables of `openapi_public` and `openapi_admin`) lists every endpoint once,
with what it takes and what it answers; `build_document()` turns that table into the document
(schemas from `msgspec.json.schema_components`, so the document cannot drift from what the server
decodes). A test checks that every route is in the table. `openapi_route()` builds and encodes the
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
    ErrorBody,
    WebhookEvent,
)
from realtime.web import openapi_admin, openapi_public
from realtime.web.operation import Operation

SCHEMAS = "#/components/schemas/{name}"


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
SUCCESS = {201: "created", 304: "not modified: the If-None-Match ETag is current (no body)"}

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


# The two tables, kept in their own modules for size: readers' and posters' endpoints, then
# the moderators' (`admin.routes`).
assert not openapi_public.PARAMETERS.keys() & openapi_admin.PARAMETERS.keys()  # one name each
PARAMETERS = {**openapi_public.PARAMETERS, **openapi_admin.PARAMETERS}
OPERATIONS = (*openapi_public.OPERATIONS, *openapi_admin.OPERATIONS)
LINKS = openapi_public.LINKS


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
