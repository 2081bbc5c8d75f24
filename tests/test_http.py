"""The HTTP API against a real uvicorn server, on a real SQLite file and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from realtime.models import ID_MAX
from realtime.web.openapi import build_document
from tests.conftest import ADMIN, STORES, post_comment
from tests.pg import fetch_rows
from tests.servers import ThreadServer

pytestmark = pytest.mark.parametrize("store_kind", STORES)

ERROR_CODES = {400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503}


def assert_error(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "field"}
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    if field is not None:
        assert error["field"] == field, error


async def table_snapshot(server: ThreadServer) -> list[Any]:
    return [
        await fetch_rows(server.settings.db, "SELECT * FROM articles ORDER BY slug"),
        await fetch_rows(server.settings.db, "SELECT * FROM comments ORDER BY id"),
    ]


async def test_health(client: httpx.AsyncClient) -> None:
    """/healthz answers ok after touching the database."""
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_article_lifecycle(client: httpx.AsyncClient) -> None:
    """PUT creates (201) then updates (200); GET and the list show it."""
    auth = {"Authorization": f"Bearer {ADMIN}"}
    created = await client.put("/api/articles/a-1", json={"title": "One"}, headers=auth)
    assert created.status_code == 201
    updated = await client.put(
        "/api/articles/a-1",
        json={"title": "One, again", "url": "https://x.example/1"},
        headers=auth,
    )
    assert updated.status_code == 200
    article = (await client.get("/api/articles/a-1")).json()
    assert article["title"] == "One, again" and article["url"] == "https://x.example/1"
    assert article["count"] == 0 and article["created"].endswith("Z")
    await client.put("/api/articles/b-2", json={"title": "Two"}, headers=auth)
    listed = (await client.get("/api/articles")).json()["articles"]
    assert [a["slug"] for a in listed][0] == "b-2"  # newest first


async def test_admin_required(start_server: Any) -> None:
    """Without an admin token configured, admin endpoints answer 403; a wrong token too."""
    server = start_server(admin_token="")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.put(
            "/api/articles/x", json={"title": "t"}, headers={"Authorization": "Bearer anything"}
        )
        assert_error(response, 403)
    server = start_server()
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert_error(await http.put("/api/articles/x", json={"title": "t"}), 401)
        response = await http.put(
            "/api/articles/x", json={"title": "t"}, headers={"Authorization": "Bearer wrong"}
        )
        assert_error(response, 403)


async def test_post_and_page(client: httpx.AsyncClient, article: str) -> None:
    """A 201 carries the comment, a token and a Location; pages walk with after/next."""
    ids = []
    for n in range(5):
        response = await post_comment(client, article, body=f"comment {n}\n\nsecond paragraph")
        assert response.status_code == 201
        created = response.json()
        assert len(created["token"]) >= 43
        assert response.headers["location"] == f"/api/comments/{created['comment']['id']}"
        ids.append(created["comment"]["id"])
    assert ids == sorted(ids)
    first = (await client.get(f"/api/articles/{article}/comments?limit=2")).json()
    assert first["count"] == 5 and [c["id"] for c in first["comments"]] == ids[:2]
    assert first["next"] == ids[1]
    last = (await client.get(f"/api/articles/{article}/comments?after={ids[3]}&limit=2")).json()
    assert [c["id"] for c in last["comments"]] == ids[4:] and last["next"] is None
    one = (await client.get(f"/api/comments/{ids[0]}")).json()
    assert one["body"] == "comment 0\n\nsecond paragraph"


async def test_counts(client: httpx.AsyncClient, article: str) -> None:
    """Counts for several slugs; unknown slugs count 0; over 200 is refused."""
    await post_comment(client, article)
    response = await client.get(f"/api/counts?articles={article},unknown-one")
    assert response.json() == {"counts": {article: 1, "unknown-one": 0}}
    many = ",".join(f"s{n}" for n in range(201))
    assert_error(await client.get(f"/api/counts?articles={many}"), 422, "articles")


async def test_limit_bounds(client: httpx.AsyncClient, article: str) -> None:
    """limit outside 1-500 is a 422, not clamped."""
    for bad in ("0", "501", "x", "-1"):
        response = await client.get(f"/api/articles/{article}/comments?limit={bad}")
        assert_error(response, 422, "limit")
    assert_error(await client.get(f"/api/articles/{article}/comments?after=-5"), 422, "after")


async def test_unknown_things_are_404(client: httpx.AsyncClient) -> None:
    """Unknown article, comment and route: 404 in the error shape."""
    assert_error(await client.get("/api/articles/nope"), 404)
    assert_error(await client.get("/api/articles/nope/comments"), 404)
    assert_error(await client.get("/api/comments/999"), 404)
    assert_error(await client.get("/api/nothing-here"), 404)
    assert_error(await post_comment(client, "nope"), 404)
    assert_error(await post_comment(client, "Not_A_Slug"), 404)


BAD_BODIES: list[tuple[str, bytes, dict[str, str], int, str | None]] = [
    ("malformed json", b'{"author": "a", "body": ', {}, 400, None),
    ("invalid utf-8", b'{"author": "\xff\xfe", "body": "x"}', {}, 400, None),
    ("lone surrogate", b'{"author": "\\ud800", "body": "x"}', {}, 400, None),
    ("wrong type", b'{"author": 5, "body": "x"}', {}, 422, "author"),
    ("unknown field", b'{"author": "a", "body": "x", "admin": true}', {}, 422, "admin"),
    ("server-owned field", b'{"author": "a", "body": "x", "id": 1}', {}, 422, "id"),
    ("empty author", b'{"author": "", "body": "x"}', {}, 422, "author"),
    ("blank body", b'{"author": "a", "body": "   \\n "}', {}, 422, "body"),
    ("missing body", b'{"author": "a"}', {}, 422, "body"),
    ("long author", b'{"author": "' + b"a" * 81 + b'", "body": "x"}', {}, 422, "author"),
    ("long body", b'{"author": "a", "body": "' + b"b" * 10_001 + b'"}', {}, 422, "body"),
    ("nul in body", b'{"author": "a", "body": "x\\u0000y"}', {}, 422, "body"),
    ("bad email", b'{"author": "a", "body": "x", "email": "not-an-address"}', {}, 422, "email"),
    (
        "long email",
        b'{"author": "a", "body": "x", "email": "' + b"e" * 250 + b'@x.org"}',
        {},
        422,
        "email",
    ),
    ("parent zero", b'{"author": "a", "body": "x", "parent": 0}', {}, 422, "parent"),
    ("array", b"[1, 2]", {}, 422, None),
    ("not json type", b'{"author": "a", "body": "x"}', {"content-type": "text/plain"}, 415, None),
    (
        "form post",
        b"author=a&body=x",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        None,
    ),
    ("one mebibyte", b'{"author": "a", "body": "' + b"x" * (1 << 20) + b'"}', {}, 413, None),
]


@pytest.mark.parametrize(
    ("raw", "headers", "status", "field"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
async def test_bad_comment_input(
    server: ThreadServer,
    client: httpx.AsyncClient,
    article: str,
    raw: bytes,
    headers: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    """Every kind of bad input gets the documented error and leaves the database unchanged."""
    await post_comment(client, article)
    before = await table_snapshot(server)
    response = await client.post(
        f"/api/articles/{article}/comments",
        content=raw,
        headers={"content-type": "application/json", **headers},
    )
    assert_error(response, status, field)
    assert await table_snapshot(server) == before


# Requests the HTTP parser itself refuses (schemathesis once sent the first one).
UNPARSEABLE = [
    b"DELETE /api/admin/bans/1 HTTP/1.1\r\nHost: x\r\ncontent-length: p\r\n\r\n",
    b"POST /api/articles/%s/comments HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n{}",
    b"GET /\x00\x01 HTTP/9.9\r\n\x7f\r\n\r\n",
]


@pytest.mark.parametrize("raw", UNPARSEABLE, ids=["content-length", "smuggling", "request-line"])
async def test_unparseable_requests_get_the_error_shape(
    server: ThreadServer, client: httpx.AsyncClient, article: str, raw: bytes
) -> None:
    """Not only the app's answers: a request uvicorn's parser refuses gets a 400 in the error
    shape too (not a line of plain text), and nothing is written."""
    await post_comment(client, article)
    before = await table_snapshot(server)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(raw.replace(b"%s", article.encode()))
        async with asyncio.timeout(10):
            answer = await reader.read()  # the server closes the connection after it
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    response = httpx.Response(int(status_line.split()[1]), headers=headers, content=body)
    assert_error(response, 400)
    assert await table_snapshot(server) == before


async def test_chunked_oversized_body_is_413(client: httpx.AsyncClient, article: str) -> None:
    """A body with no Content-Length is still cut off at the bound."""

    async def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 4096

    response = await client.post(
        f"/api/articles/{article}/comments",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert_error(response, 413)


async def test_parent_rules(client: httpx.AsyncClient, article: str) -> None:
    """A reply's parent must be a comment of the same article (409 otherwise)."""
    auth = {"Authorization": f"Bearer {ADMIN}"}
    await client.put("/api/articles/other", json={"title": "Other"}, headers=auth)
    elsewhere = (await post_comment(client, "other")).json()["comment"]["id"]
    here = (await post_comment(client, article)).json()["comment"]["id"]
    reply = await post_comment(client, article, parent=here)
    assert reply.status_code == 201 and reply.json()["comment"]["parent"] == here
    assert_error(await post_comment(client, article, parent=elsewhere), 409, "parent")
    assert_error(await post_comment(client, article, parent=10_000), 409, "parent")
    assert (await client.get(f"/api/articles/{article}")).json()["count"] == 2


async def test_ids_past_the_integer_range_are_refused(
    client: httpx.AsyncClient, article: str
) -> None:
    """Ids one past the 64-bit range (the columns' range on both stores): 4xx, never a 500."""
    past = ID_MAX + 1
    assert_error(await post_comment(client, article, parent=past), 422, "parent")
    assert_error(await client.get(f"/api/comments/{past}"), 422, "id")
    assert_error(await client.get(f"/api/articles/{article}/comments?after={past}"), 422, "after")
    assert_error(await post_comment(client, article, parent=ID_MAX), 409, "parent")
    assert_error(await client.get(f"/api/comments/{ID_MAX}"), 404)
    assert (await client.get(f"/api/articles/{article}/comments?after={ID_MAX}")).json()[
        "comments"
    ] == []


async def test_edit_and_delete_with_token(client: httpx.AsyncClient, article: str) -> None:
    """The author token edits and deletes its own comment, not another one."""
    mine = (await post_comment(client, article, body="first")).json()
    other = (await post_comment(client, article, body="second")).json()
    mine_auth = {"Authorization": f"Bearer {mine['token']}"}
    cid, other_id = mine["comment"]["id"], other["comment"]["id"]
    edited = await client.patch(
        f"/api/comments/{cid}", json={"body": "first, fixed"}, headers=mine_auth
    )
    assert edited.status_code == 200
    assert edited.json()["body"] == "first, fixed" and edited.json()["edited"] is not None
    assert_error(
        await client.patch(f"/api/comments/{other_id}", json={"body": "hijack"}, headers=mine_auth),
        403,
    )
    assert_error(await client.delete(f"/api/comments/{other_id}", headers=mine_auth), 403)
    assert_error(await client.delete(f"/api/comments/{cid}"), 401)
    assert_error(
        await client.patch(f"/api/comments/{cid}", json={"body": ""}, headers=mine_auth),
        422,
        "body",
    )
    assert (await client.delete(f"/api/comments/{cid}", headers=mine_auth)).status_code == 204
    assert_error(await client.get(f"/api/comments/{cid}"), 404)
    assert (await client.get(f"/api/articles/{article}")).json()["count"] == 1
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert (await client.delete(f"/api/comments/{other_id}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/articles/{article}")).json()["count"] == 0


async def test_edit_window_closes(start_server: Any) -> None:
    """After the edit window the author token is refused; the admin token still works."""
    server = start_server(edit_window_seconds=0)
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.put(
            "/api/articles/w", json={"title": "W"}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        mine = (await post_comment(http, "w")).json()
        cid = mine["comment"]["id"]
        auth = {"Authorization": f"Bearer {mine['token']}"}
        assert_error(
            await http.patch(f"/api/comments/{cid}", json={"body": "late"}, headers=auth), 403
        )
        assert_error(await http.delete(f"/api/comments/{cid}", headers=auth), 403)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        response = await http.patch(
            f"/api/comments/{cid}", json={"body": "moderated"}, headers=admin
        )
        assert response.status_code == 200


async def test_method_not_allowed_shape(client: httpx.AsyncClient) -> None:
    """Even router errors come in the error shape."""
    response = await client.post("/api/articles")
    assert response.status_code == 405
    assert response.json()["error"]["status"] == 405


# ---- details an outside fuzzer found ---------------------------------------------------------

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


async def test_405_allow_lists_exactly_the_resource_methods(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Every method a path does not take answers 405 with `Allow` naming exactly the ones it
    takes: for the API those of the OpenAPI document, for every route those it was given (and
    HEAD wherever GET is)."""
    comment_id = (await post_comment(client, article)).json()["comment"]["id"]
    concrete = {"{slug}": article, "{id}": str(comment_id)}
    taken: dict[str, set[str]] = {}
    for route in server.app.routes:
        if isinstance(route, Route):
            taken.setdefault(route.path, set()).update(route.methods or ())
    for path, operations in build_document()["paths"].items():
        documented = {method.upper() for method in operations}
        assert taken[path] == documented | ({"HEAD"} if "GET" in documented else set()), path
    for template, allowed in taken.items():
        path = template
        for name, value in concrete.items():
            path = path.replace(name, value)
        for method in sorted(set(METHODS) - allowed):
            response = await client.request(method, path)
            if method == "HEAD":  # no body to check
                assert response.status_code == 405
            else:
                assert_error(response, 405)
            assert response.headers["allow"] == ", ".join(sorted(allowed)), (method, template)
    assert (await client.post("/static/app.js")).headers["allow"] == "GET, HEAD"


async def test_integral_numbers_are_integers(client: httpx.AsyncClient, article: str) -> None:
    """`"parent": 293135.0` is the integer 293135 (as JSON Schema's `integer` says); a fraction,
    a string, or a float past 2**53 (no longer exact) is still refused."""
    parent = (await post_comment(client, article)).json()["comment"]["id"]
    for written in (f"{parent}.0", f"{parent}e0", f"{parent}.000"):
        raw = f'{{"author": "a", "body": "reply {written}", "parent": {written}}}'.encode()
        response = await client.post(
            f"/api/articles/{article}/comments",
            content=raw,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["comment"]["parent"] == parent
    for written in (f"{parent}.5", f'"{parent}"', "9007199254740994.0", "true", "0.0"):
        raw = f'{{"author": "a", "body": "bad", "parent": {written}}}'.encode()
        response = await client.post(
            f"/api/articles/{article}/comments",
            content=raw,
            headers={"content-type": "application/json"},
        )
        assert_error(response, 422, "parent")


async def test_wrong_token_does_not_tell_which_ids_exist(
    client: httpx.AsyncClient, article: str
) -> None:
    """PATCH and DELETE check the token before the id: a token that is not the comment's nor the
    admin's gets the same 403 for a live, a deleted and a never-used id. Its author, and the
    admin, are told 404 for a deleted one."""
    live = (await post_comment(client, article, body="live")).json()
    gone = (await post_comment(client, article, body="gone")).json()
    gone_id = gone["comment"]["id"]
    owner = {"Authorization": f"Bearer {gone['token']}"}
    assert (await client.delete(f"/api/comments/{gone_id}", headers=owner)).status_code == 204
    wrong = {"Authorization": "Bearer not-a-token-of-anything"}
    answers = []
    for comment_id in (live["comment"]["id"], gone_id, 10**9):
        for response in (
            await client.patch(f"/api/comments/{comment_id}", json={"body": "x"}, headers=wrong),
            await client.delete(f"/api/comments/{comment_id}", headers=wrong),
        ):
            assert_error(response, 403)
            answers.append(response.content)
    assert len(set(answers)) == 1
    assert_error(await client.delete(f"/api/comments/{gone_id}", headers=owner), 404)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert_error(await client.delete(f"/api/comments/{gone_id}", headers=admin), 404)
    assert_error(await client.delete(f"/api/comments/{10**9}", headers=admin), 404)
    assert_error(await client.delete(f"/api/comments/{10**9}"), 401)
