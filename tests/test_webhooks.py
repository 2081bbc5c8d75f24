"""Webhooks into a real HTTP receiver (Starlette under uvicorn on 127.0.0.1) that verifies every
signature; delivery at least once across a dead receiver, a SIGKILL and several processes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from realtime.models import (
    ArticleClosedHook,
    CommentDeletedHook,
    CommentEditedHook,
    CommentHeldHook,
    CommentPublishedHook,
    WebhookEvent,
)
from tests.conftest import ADMIN, SLUG, Site
from tests.notify_parts import SECRET, Receiver, outbox, settled
from tests.servers import UNIT, ProcessServer, RedisServer, wait_for

EVENTS = ["comment.published", "comment.held", "comment.edited", "comment.deleted"]
EVENTS += ["article.closed"]
AUTH = {"Authorization": f"Bearer {ADMIN}"}
decode = msgspec.json.Decoder(WebhookEvent).decode
FAST = {"notify_poll_seconds": 0.1, "notify_backoff_seconds": 0.1}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver that is not started yet (a test starts it, or first shows it down)."""
    made = Receiver()
    yield made
    made.stop()


def hooks(receiver: Receiver, events: list[str] = EVENTS) -> list[dict[str, Any]]:
    return [{"url": receiver.url, "secret": SECRET, "events": events}]


async def test_every_event_signed_and_without_addresses(
    receiver: Receiver, make_site: Callable[..., Any]
) -> None:
    """Each event reaches the receiver once, signed, with its event and delivery headers and a
    body of the documented shape that holds no e-mail address."""
    receiver.start()
    site: Site = await make_site(webhooks=hooks(receiver), **FAST)
    created = await site.post("First", email="kari@example.org")
    comment_id, token = created["comment"]["id"], created["token"]
    await site.post("Held", email="kari@example.org", website="https://spam.example")
    auth = {"Authorization": f"Bearer {token}"}
    edited = await site.http.patch(f"/api/comments/{comment_id}", json={"body": "x"}, headers=auth)
    assert edited.status_code == 200
    assert (await site.http.delete(f"/api/comments/{comment_id}", headers=auth)).status_code == 204
    closing = await site.http.post(f"/api/admin/articles/{SLUG}/close", headers=AUTH)
    assert closing.status_code == 200
    await wait_for(lambda: len(receiver.deliveries) == 5)
    await wait_for(lambda: settled(site.server.settings.db))
    assert receiver.forged == 0
    assert [d.event for d in receiver.deliveries] == EVENTS
    bodies = [decode(d.body) for d in receiver.deliveries]
    assert [type(body) for body in bodies] == [
        CommentPublishedHook,
        CommentHeldHook,
        CommentEditedHook,
        CommentDeletedHook,
        ArticleClosedHook,
    ]
    assert all(body.article == SLUG for body in bodies)
    assert len(set(receiver.keys())) == 5
    assert not [d for d in receiver.deliveries if b"@" in d.body]


async def test_only_the_events_asked_for(receiver: Receiver, make_site: Callable[..., Any]) -> None:
    """An endpoint gets only the events in its `events` list."""
    receiver.start()
    site: Site = await make_site(webhooks=hooks(receiver, ["article.closed"]), **FAST)
    await site.post("Not sent anywhere")
    assert (await site.http.post(f"/api/admin/articles/{SLUG}/close", headers=AUTH)).is_success
    await wait_for(lambda: len(receiver.deliveries) == 1)
    await wait_for(lambda: settled(site.server.settings.db))
    assert [d.event for d in receiver.deliveries] == ["article.closed"]


async def test_receiver_down_then_up(receiver: Receiver, make_site: Callable[..., Any]) -> None:
    """Refused connections and 5xx answers are retried; once the receiver is back, delivered."""
    site: Site = await make_site(
        webhooks=hooks(receiver, ["comment.published"]), notify_backoff_max_seconds=0.3, **FAST
    )
    await site.post("While the receiver is down")
    db = site.server.settings.db
    await wait_for(lambda: outbox(db)[0][4] >= 2)  # two refused attempts
    assert "ConnectError" in outbox(db)[0][5]
    receiver.status = 503
    receiver.start()
    await wait_for(lambda: outbox(db)[0][5] == "HTTP 503 from the receiver")
    receiver.status = 200
    await wait_for(lambda: settled(db))
    assert outbox(db)[0][3] == "sent"
    assert len(set(receiver.keys())) == 1 and receiver.deliveries[-1].event == "comment.published"


def write_config(path: Path, receiver: Receiver, timeout: float) -> Path:
    path.write_text(
        "notify_poll_seconds = 0.1\nnotify_backoff_seconds = 0.1\n"
        f"notify_timeout_seconds = {timeout}\n"
        f'[[webhooks]]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n'
        'events = ["comment.published"]\n'
    )
    return path


async def test_sigkill_during_sending_delivers_after_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    """SIGKILL while a webhook request is in flight: after the restart it is delivered, with
    the same idempotency key."""
    receiver.hold = threading.Event()  # the first request hangs: the kill lands mid-sending
    receiver.start()
    config = write_config(tmp_path / "hooks.toml", receiver, timeout=2.0)
    db = tmp_path / "kill.sqlite"
    server = ProcessServer(db, env={"REALTIME_ADMIN_TOKEN": ADMIN}, config=config)
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
            await http.put(f"/api/articles/{SLUG}", json={"title": "T"}, headers=AUTH)
            posted = await http.post(
                f"/api/articles/{SLUG}/comments", json={"author": "A", "body": "kill me"}
            )
            assert posted.status_code == 201
            await wait_for(lambda: outbox(db) and outbox(db)[0][4] == 1)  # claimed, sending
            await asyncio.sleep(0.2)
            server.kill()
            assert outbox(db)[0][3] == "pending"
            receiver.hold.set()
            await asyncio.to_thread(server.start)
            await wait_for(lambda: settled(db), timeout=15)
    finally:
        server.stop()
    assert outbox(db)[0][3] == "sent"
    keys = receiver.keys()
    assert len(keys) >= 1 and len(set(keys)) == 1  # at least once, always the same key


@pytest.mark.redis
async def test_one_sender_across_processes(
    tmp_path: Path,
    receiver: Receiver,
    redis_server: RedisServer,
) -> None:
    """Three processes on one database and one Redis: each notification is sent once, by one."""
    receiver.start()
    config = write_config(tmp_path / "hooks.toml", receiver, timeout=5.0)
    db = tmp_path / "shared.sqlite"
    env = {"REALTIME_HUB": redis_server.url, "REALTIME_ADMIN_TOKEN": ADMIN}
    servers = [
        ProcessServer(db, env=env, config=config, log=tmp_path / f"p{n}.log") for n in range(3)
    ]
    for server in servers:  # one after the other: the first creates the schema
        await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(timeout=10 * UNIT) as http:
            put = await http.put(
                f"{servers[0].url}/api/articles/{SLUG}", json={"title": "T"}, headers=AUTH
            )
            assert put.status_code == 201

            async def post(n: int) -> None:
                url = f"{servers[n % 3].url}/api/articles/{SLUG}/comments"
                response = await http.post(url, json={"author": "A", "body": f"n{n}"})
                assert response.status_code == 201, response.text

            await asyncio.gather(*(post(n) for n in range(45)))
            await wait_for(lambda: settled(db), timeout=20)
            await asyncio.sleep(0.5)  # a second sender, if there were one, would be late
    finally:
        for server in servers:
            server.stop()
    keys = receiver.keys()
    assert len(keys) == 45 and len(set(keys)) == 45
    assert all(row[4] == 1 for row in outbox(db))  # each taken once
