"""The OpenAPI operations of `http.routes`, `notify.routes` and the feeds: articles, comments,
votes, counts, previews, feeds, notifications — with their parameters and the links that
Schemathesis's stateful phase follows.

Kept apart from `openapi` (which builds the document) for size, as `openapi_admin` is.
"""

from __future__ import annotations

from typing import Any

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
)
from realtime.web.operation import BODY_ERRORS, ID_MAX, Operation

EXAMPLE_SLUG = "nato-annual-report"
OPTIONAL_SLUG = f"^({SLUG_PATTERN[1:-1]})?$"

ATOM = "application/atom+xml"

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
