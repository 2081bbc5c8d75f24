"""A commenter's data: `forget` anonymises every comment of an address (readers see it live,
counts stay right, no byte of the address is left in the database or its WAL), and `export
--email` writes everything stored about it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, post_comment
from tests.notify_parts import PUBLIC_URL, SECRET, Mailbox, SmtpServer
from tests.servers import ThreadServer, free_port
from tests.test_http import assert_error
from tests.test_moderators import cli
from tests.wsclient import Reader

OWNER = {"Authorization": f"Bearer {ADMIN}"}
EMAIL = "kari.nordmann@example.no"
NAME = "Kari Nordmann"
BIG = "Lorem ipsum dolor sit amet. " * 180  # ~5 KB: held comments fill pages of their own


async def seed(http: httpx.AsyncClient) -> dict[str, Any]:
    """Kari's comments (published, one deleted by herself, held ones) among Ola's, and a ban."""
    await http.put("/api/articles/f", json={"title": "F"}, headers=OWNER)
    kari = {"author": NAME, "email": EMAIL.upper(), "notify": True}
    first = (await post_comment(http, "f", body="Kari's first", **kari)).json()
    reply = (
        await post_comment(
            http, "f", body="Ola replies", author="Ola", parent=first["comment"]["id"]
        )
    ).json()
    second = (await post_comment(http, "f", body="Kari's second", **kari)).json()
    gone = (await post_comment(http, "f", body="Kari regrets this", **kari)).json()
    mine = {"Authorization": f"Bearer {gone['token']}"}
    assert (await http.delete(f"/api/comments/{gone['comment']['id']}", headers=mine)).is_success
    for n in range(6):  # the honeypot holds them
        held = await post_comment(http, "f", body=f"{n} {BIG}", website="x", **kari)
        assert held.json()["status"] == "pending"
    ban = await http.post(
        f"/api/admin/comments/{second['comment']['id']}/ban", json={"reason": "r"}, headers=OWNER
    )
    assert ban.status_code == 201
    return {"first": first, "reply": reply, "second": second}


def stored_bytes(db: Path) -> bytes:
    """The database file and its WAL, as they are on disk after a checkpoint."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = Path(f"{db}-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture
def notifying() -> Iterator[dict[str, Any]]:
    """Settings that write notifications: mails through a real SMTP server (to the author, who
    asks for replies, and to the moderators about each held comment) and a webhook that is
    down (its rows wait for a retry)."""
    smtp = SmtpServer(Mailbox()).start()
    yield {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "mail_from": "Comments <comments@example.org>",
        "public_url": PUBLIC_URL,
        "moderator_emails": ["mods@example.org"],
        "webhooks": [
            {
                "url": f"http://127.0.0.1:{free_port()}/hook",
                "secret": SECRET,
                "events": ["comment.published"],
            }
        ],
    }
    smtp.stop()


async def forget_live(
    server: ThreadServer,
    seeded_hook: Callable[[], None] = lambda: None,
    forgotten: Callable[[], None] = lambda: None,
) -> None:
    """Seed, forget with readers watching: deletes arrive with right counts, held comments and
    the name are gone, the ban stays in force. The hooks run after seeding and after forgetting."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        seeded = await seed(http)
        seeded_hook()
        reader = await Reader.open(f"{server.ws_url}/ws/articles/f")
        assert (await reader.next())["count"] == 3
        done = await http.post("/api/admin/forget", json={"email": EMAIL}, headers=OWNER)
        # Notifications: her confirmation mail, a webhook for each of her 3 published comments
        # (one she deleted herself), a moderator alert for each of her 6 held ones.
        assert done.json() == {
            "comments": 2,
            "pending": 6,
            "bans": 1,
            "subscriptions": 1,
            "notifications": 10,
        }
        forgotten()
        first, second = seeded["first"]["comment"]["id"], seeded["second"]["comment"]["id"]
        events = [await reader.next_of("delete"), await reader.next_of("delete")]
        assert [(e["id"], e["count"]) for e in events] == [(first, 2), (second, 1)]
        page = (await http.get("/api/articles/f/comments")).json()
        assert page["count"] == 1 and [c["body"] for c in page["comments"]] == ["Ola replies"]
        assert (await http.get("/api/admin/pending", headers=OWNER)).json() == {"pending": []}
        bans = (await http.get("/api/admin/bans", headers=OWNER)).json()["bans"]
        assert [b["author"] for b in bans] == ["deleted"] and bans[0]["active"]
        assert_error(await post_comment(http, "f", body="back!", email=EMAIL), 403)
        await reader.close()


async def test_forget_removes_every_trace_and_readers_see_it_live(
    start_server: Any, notifying: dict[str, Any]
) -> None:
    """Deletes reach open threads with right counts; no byte of the address or name is left in
    the database file or its WAL (nor on its freelist), the outbox's rows included."""
    server = start_server(**notifying)
    db = Path(server.settings.db)

    def stored() -> None:
        assert EMAIL.encode() in stored_bytes(db)  # the scan below can see the address

    def wal_truncated() -> None:
        assert EMAIL.encode() not in Path(f"{db}-wal").read_bytes()  # no checkpoint of ours yet

    await forget_live(server, stored, wal_truncated)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 0  # freed pages are zeroed
    raw = stored_bytes(db)
    for trace in (EMAIL.encode(), EMAIL.upper().encode(), NAME.encode(), b"Kari's", b"Lorem ipsum"):
        assert trace not in raw, trace


@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_forget_on_postgresql(start_server: Any, notifying: dict[str, Any]) -> None:
    """The same forgetting on PostgreSQL (its bytes on disk are the database's business)."""
    await forget_live(start_server(**notifying))


async def test_keep_text_anonymises_in_place(server: ThreadServer) -> None:
    """With keep_text the comments stay, by "deleted", with no avatar: readers get `edit`s."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        seeded = await seed(http)
        reader = await Reader.open(f"{server.ws_url}/ws/articles/f")
        await reader.next()
        body = {"email": EMAIL, "keep_text": True}
        assert (await http.post("/api/admin/forget", json=body, headers=OWNER)).json()[
            "comments"
        ] == 2
        edit = (await reader.next_of("edit"))["comment"]
        assert edit["id"] == seeded["first"]["comment"]["id"] and edit["author"] == "deleted"
        assert edit["body"] == "Kari's first" and edit["avatar"] == "0" * 32 and edit["edited"]
        assert (await http.get("/api/articles/f")).json()["count"] == 3
        token = {"Authorization": f"Bearer {seeded['first']['token']}"}
        url = f"/api/comments/{edit['id']}"
        assert_error(await http.patch(url, json={"body": "mine?"}, headers=token), 403)
        await reader.close()
    assert EMAIL.encode() not in stored_bytes(Path(server.settings.db))


async def test_forget_needs_the_owner_and_an_address(server: ThreadServer) -> None:
    """Forget is the owner's; a body that is not an address is 422 and changes nothing."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert_error(await http.post("/api/admin/forget", json={"email": EMAIL}), 401)
        response = await http.post("/api/admin/forget", json={"email": "nope"}, headers=OWNER)
        assert_error(response, 422, "email")
        audit = (await http.get("/api/admin/audit", headers=OWNER)).json()["entries"]
        assert audit == []
        done = await http.post("/api/admin/forget", json={"email": EMAIL}, headers=OWNER)
        assert done.json() == {
            "comments": 0,
            "pending": 0,
            "bans": 0,
            "subscriptions": 0,
            "notifications": 0,
        }
        (entry,) = (await http.get("/api/admin/audit", headers=OWNER)).json()["entries"]
        assert entry["action"] == "forget" and EMAIL not in json.dumps(entry)


async def test_export_then_forget_on_the_command_line(
    start_server: Any, notifying: dict[str, Any], tmp_path: Path
) -> None:
    """`export --email` lists every comment, held one, ban, the subscription and the mails to
    the address; after `forget` only the ban (still in force, by its keyed hash, now nameless)."""
    server = start_server(**notifying)
    db = Path(server.settings.db)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await seed(http)
    out = tmp_path / "kari.json"
    exported = cli(db, "export", "--email", EMAIL, str(out))
    assert exported.returncode == 0, exported.stderr
    data = json.loads(out.read_text())
    assert data["email"] == EMAIL
    statuses = sorted(c["status"] for c in data["comments"])
    assert statuses == ["deleted", "published", "published"] and len(data["pending"]) == 6
    assert {c["author"] for c in data["comments"]} == {NAME}
    assert data["comments"][0]["network"] == "127.0.0.0/24"
    assert [b["reason"] for b in data["bans"]] == ["r"] and "email_key" not in data["bans"][0]
    assert data["subscription"]["state"] == "unconfirmed"  # asked to confirm, not yet
    assert [(n["event"], n["target"]) for n in data["notifications"]] == [("confirm", None)]
    assert out.stat().st_mode & 0o077 == 0  # written private
    forgot = cli(db, "forget", "--email", EMAIL)
    assert forgot.returncode == 0 and "2 comments anonymised" in forgot.stderr
    assert "1 subscriptions and 10 notifications dropped" in forgot.stderr
    again = json.loads(cli(db, "export", "--email", EMAIL, "-").stdout)
    assert again["comments"] == [] and again["pending"] == []
    assert again["subscription"] is None and again["notifications"] == []
    assert [(b["author"], b["active"]) for b in again["bans"]] == [("deleted", True)]
    assert EMAIL.encode() not in stored_bytes(db)
