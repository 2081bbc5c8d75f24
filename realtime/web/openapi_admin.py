"""The OpenAPI operations of `admin.routes`: moderators, bans, word lists, a commenter's data.

Kept apart from `openapi_public` (the other endpoints) only for size; `openapi` joins the two
tables and builds the document.
"""

from __future__ import annotations

from typing import Any

from realtime.models import (
    AuditPage,
    Ban,
    BanIn,
    BanList,
    CommenterData,
    CommenterIn,
    ForgetIn,
    Forgotten,
    WordLists,
)
from realtime.web.admin import Who
from realtime.web.operation import BODY_ERRORS, ID_MAX, Operation

PARAMETERS: dict[str, dict[str, Any]] = {
    "before": {
        "name": "before",
        "in": "query",
        "description": "only entries with a smaller id (the previous page's `next`)",
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
    },
    "audit_limit": {
        "name": "limit",
        "in": "query",
        "description": "page size; outside 1-500 the answer is 422",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    },
    "ban_limit": {
        "name": "limit",
        "in": "query",
        "description": "page size; outside 1-500 the answer is 422",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
    },
    "q": {
        "name": "q",
        "in": "query",
        "description": "text in the name, the reason or the network prefix; or an e-mail address",
        "schema": {"type": "string", "maxLength": 200},
    },
    "all": {
        "name": "all",
        "in": "query",
        "description": "1: lifted and expired bans too",
        "schema": {"type": "string", "enum": ["1", "true", "0", "false"]},
    },
}
MODERATOR = (401, 403)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="admin_me",
        method="get",
        path="/api/admin/me",
        summary="Whose token this is: the owner's or a moderator's",
        response=Who,
        errors=MODERATOR,
        auth=True,
    ),
    Operation(
        name="audit",
        method="get",
        path="/api/admin/audit",
        summary="The audit log of moderation actions, newest first",
        response=AuditPage,
        parameters=("before", "audit_limit"),
        errors=(*MODERATOR, 422),
        auth=True,
    ),
    Operation(
        name="ban_comment",
        method="post",
        path="/api/admin/comments/{id}/ban",
        summary="Ban the poster of a published comment (network, e-mail or both)",
        response=Ban,
        ok=(201,),
        body=BanIn,
        parameters=("id",),
        errors=(*BODY_ERRORS, *MODERATOR, 404, 409, 503),
        auth=True,
    ),
    Operation(
        name="ban_pending",
        method="post",
        path="/api/admin/pending/{id}/ban",
        summary="Ban the poster of a held comment (network, e-mail or both)",
        response=Ban,
        ok=(201,),
        body=BanIn,
        parameters=("id",),
        errors=(*BODY_ERRORS, *MODERATOR, 404, 409, 503),
        auth=True,
    ),
    Operation(
        name="list_bans",
        method="get",
        path="/api/admin/bans",
        summary="Bans, newest first: those in force, or all; searchable",
        response=BanList,
        parameters=("q", "all", "before", "ban_limit"),
        errors=(*MODERATOR, 422),
        auth=True,
    ),
    Operation(
        name="lift_ban",
        method="delete",
        path="/api/admin/bans/{id}",
        summary="Lift a ban in force",
        response=Ban,
        parameters=("id",),
        errors=(*MODERATOR, 404, 422, 503),
        auth=True,
    ),
    Operation(
        name="get_words",
        method="get",
        path="/api/admin/words",
        summary="The word lists in use",
        response=WordLists,
        errors=MODERATOR,
        auth=True,
    ),
    Operation(
        name="reload_words",
        method="post",
        path="/api/admin/words/reload",
        summary="Read the word lists again from the settings (as SIGHUP does)",
        response=WordLists,
        errors=(*MODERATOR, 422),
        auth=True,
    ),
    Operation(
        name="forget",
        method="post",
        path="/api/admin/forget",
        summary="Anonymise every comment of an e-mail address; the owner only",
        response=Forgotten,
        body=ForgetIn,
        errors=(*BODY_ERRORS, *MODERATOR, 503),
        auth=True,
    ),
    Operation(
        name="export_commenter",
        method="post",
        path="/api/admin/export",
        summary="Everything stored about an e-mail address; the owner only",
        response=CommenterData,
        body=CommenterIn,
        errors=(*BODY_ERRORS, *MODERATOR, 503),
        auth=True,
    ),
)
