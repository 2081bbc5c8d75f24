"""Named moderators: tokens from the command line, an audit trail of what each one did, and
revocation that takes effect at once on HTTP and on an open /ws/admin."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, STORES, post_comment
from tests.servers import ROOT, ThreadServer
from tests.test_http import assert_error
from tests.wsclient import Reader

OWNER = {"Authorization": f"Bearer {ADMIN}"}


def cli(db: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    """`realtime --db DB …` in a subprocess, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "realtime", "--db", str(db), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def add_moderator(db: Path | str, name: str) -> dict[str, str]:
    """Add a moderator with the command line; their bearer header."""
    done = cli(db, "moderator", "add", name)
    assert done.returncode == 0, done.stderr
    return {"Authorization": f"Bearer {done.stdout.strip()}"}


def db_of(server: ThreadServer) -> str:
    """The server's `db` setting: a file, or a PostgreSQL URL."""
    return server.settings.db


both = pytest.mark.parametrize("store_kind", STORES)


async def held_comment(http: httpx.AsyncClient, slug: str, body: str = "hold me") -> int:
    response = await post_comment(http, slug, body=body)
    assert response.json()["status"] == "pending", response.text
    pending_id: int = response.json()["comment"]["id"]
    return pending_id


async def admin_socket(server: ThreadServer, token_header: dict[str, str]) -> Reader:
    admin = await Reader.open(f"{server.ws_url}/ws/admin")
    token = token_header["Authorization"].removeprefix("Bearer ")
    await admin.connection.send(json.dumps({"type": "auth", "token": token}))
    assert (await admin.next())["type"] == "queue"
    return admin


def test_add_prints_the_token_alone_and_keeps_only_its_hash(tmp_path: Path) -> None:
    """`moderator add` prints one line, the token; the database holds its hash, not the token."""
    db = tmp_path / "m.sqlite"
    done = cli(db, "moderator", "add", "kari")
    token = done.stdout.strip()
    assert done.returncode == 0 and done.stdout == token + "\n" and len(token) >= 40
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT token_hash FROM moderators").fetchone()
    assert token.encode() not in db.read_bytes() and len(stored) == 32
    assert cli(db, "moderator", "add", "kari").returncode == 1  # one active "kari"
    assert cli(db, "moderator", "add", "owner").returncode == 1  # the owner's name is taken
    assert "kari\tactive" in cli(db, "moderator", "list").stdout
    assert cli(db, "moderator", "revoke", "kari").returncode == 0
    assert "kari\trevoked" in cli(db, "moderator", "list").stdout
    assert cli(db, "moderator", "revoke", "kari").returncode == 1  # nothing left to revoke


@both
async def test_moderators_act_and_the_audit_names_them(start_server: Any) -> None:
    """Each action is in the audit log with who, when, what and on which comment."""
    server = start_server(moderation="all")
    kari = add_moderator(db_of(server), "kari")
    ola = add_moderator(db_of(server), "ola")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert_error(await http.put("/api/articles/a1", json={"title": "A"}, headers=kari), 403)
        assert (await http.put("/api/articles/a1", json={"title": "A"}, headers=OWNER)).is_success
        first, second = await held_comment(http, "a1"), await held_comment(http, "a1", "two")
        approved = await http.post(f"/api/admin/pending/{first}/approve", headers=kari)
        comment_id = approved.json()["id"]
        assert (await http.post(f"/api/admin/pending/{second}/reject", headers=ola)).is_success
        assert (await http.delete(f"/api/comments/{comment_id}", headers=ola)).is_success
        assert (await http.post("/api/admin/articles/a1/close", headers=kari)).is_success
        assert (await http.post("/api/admin/articles/a1/reopen", headers=OWNER)).is_success
        audit = (await http.get("/api/admin/audit", headers=ola)).json()
    done = [
        (e["actor"], e["action"], e["article"], e["comment"], e["pending"])
        for e in audit["entries"]
    ]
    assert done == [
        ("owner", "reopen", "a1", None, None),
        ("kari", "close", "a1", None, None),
        ("ola", "delete", "a1", comment_id, None),
        ("ola", "reject", "a1", None, second),
        ("kari", "approve", "a1", comment_id, first),
        ("cli", "moderator-add", None, None, None),
        ("cli", "moderator-add", None, None, None),
    ]
    assert all(entry["at"].endswith("Z") for entry in audit["entries"]) and audit["next"] is None


async def test_audit_pages_through_older_entries(server: ThreadServer) -> None:
    """`before` and `limit` page through the log newest first; bad values are 422."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put("/api/articles/p", json={"title": "P"}, headers=OWNER)
        for _ in range(5):
            await http.post("/api/admin/articles/p/close", headers=OWNER)
        first = (await http.get("/api/admin/audit?limit=2", headers=OWNER)).json()
        second = (
            await http.get(f"/api/admin/audit?limit=2&before={first['next']}", headers=OWNER)
        ).json()
        last = (
            await http.get(f"/api/admin/audit?limit=2&before={second['next']}", headers=OWNER)
        ).json()
        ids = [e["id"] for page in (first, second, last) for e in page["entries"]]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5 and last["next"] is None
        assert_error(await http.get("/api/admin/audit?limit=0", headers=OWNER), 422, "limit")
        assert_error(await http.get("/api/admin/audit?before=x", headers=OWNER), 422, "before")
        assert_error(await http.get("/api/admin/audit"), 401)


async def test_a_failed_action_writes_no_audit_row(server: ThreadServer) -> None:
    """The audit row shares its action's transaction: a failed approval records nothing."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert_error(await http.post("/api/admin/pending/999/approve", headers=OWNER), 404)
        assert_error(await http.post("/api/admin/articles/nope/close", headers=OWNER), 404)
        assert (await http.get("/api/admin/audit", headers=OWNER)).json()["entries"] == []


@both
async def test_revoked_token_is_refused_at_once_and_its_socket_closed(start_server: Any) -> None:
    """After `moderator revoke` in another process: 401 on the next request, 4403 on /ws/admin."""
    server = start_server(moderation="all")
    kari = add_moderator(db_of(server), "kari")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get("/api/admin/pending", headers=kari)).status_code == 200
        admin = await admin_socket(server, kari)
        owner = await admin_socket(server, OWNER)
        assert cli(db_of(server), "moderator", "revoke", "kari").returncode == 0
        assert_error(await http.get("/api/admin/pending", headers=kari), 401)
        assert_error(await http.post("/api/admin/articles/x/close", headers=kari), 401)
        assert await admin.close_code(timeout=5) == 4403
        again = await Reader.open(f"{server.ws_url}/ws/admin")
        await again.connection.send(
            json.dumps({"type": "auth", "token": kari["Authorization"][7:]})
        )
        assert await again.close_code() == 4403
        # The owner's session goes on: a held comment still reaches it.
        await http.put("/api/articles/s", json={"title": "S"}, headers=OWNER)
        await held_comment(http, "s")
        assert (await owner.next_of("pending"))["comment"]["body"] == "hold me"
        await owner.close()


async def test_owner_only_endpoints_refuse_moderators(server: ThreadServer) -> None:
    """Articles and a commenter's data are the owner's: a moderator's token gets 403."""
    kari = add_moderator(db_of(server), "kari")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert_error(await http.put("/api/articles/x", json={"title": "t"}, headers=kari), 403)
        body = {"email": "someone@example.com"}
        assert_error(await http.post("/api/admin/forget", json=body, headers=kari), 403)
        assert_error(await http.post("/api/admin/export", json=body, headers=kari), 403)
        me = (await http.get("/api/admin/me", headers=kari)).json()
        assert me == {"name": "kari", "owner": False}
        assert (await http.get("/api/admin/me", headers=OWNER)).json()["owner"] is True


async def test_moderators_work_without_an_owner_token(start_server: Any) -> None:
    """With no admin_token set, a moderator's token still moderates; others get 403."""
    server = start_server(admin_token="", moderation="all")
    kari = add_moderator(db_of(server), "kari")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get("/api/admin/pending", headers=kari)).status_code == 200
        wrong = {"Authorization": "Bearer not-a-token"}
        assert_error(await http.get("/api/admin/pending", headers=wrong), 403)
