"""Reply e-mails and moderator alerts through a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from realtime.notify.signing import sign_link
from tests.conftest import ADMIN, SLUG, Site
from tests.notify_parts import (
    PUBLIC_URL,
    Mailbox,
    SilentSmtp,
    SmtpServer,
    links,
    local,
    outbox,
    settled,
)
from tests.servers import UNIT, wait_for
from tests.test_moderators import add_moderator
from tests.wsclient import Reader

KARI, OLA, MOD = "kari@example.org", "ola.nordmann@example.net", "moderator@example.com"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
ADDRESS = re.compile(rb"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    server = SmtpServer(box).start()
    yield box
    server.stop()


@pytest.fixture
def mail_site(make_site: Callable[..., Any], mailbox: Mailbox) -> Callable[..., Any]:
    async def make(**settings: Any) -> Site:
        settings.setdefault("smtp_host", "127.0.0.1")
        settings.setdefault("smtp_port", mailbox.port)
        settings.setdefault("mail_from", "Comments <comments@example.org>")
        settings.setdefault("public_url", PUBLIC_URL)
        settings.setdefault("notify_poll_seconds", 0.1)
        settings.setdefault("reply_digest_seconds", 0)
        site: Site = await make_site(**settings)
        return site

    return make


def db(site: Site) -> str:
    return str(site.server.settings.db)


async def settle(site: Site) -> None:
    """Wait until the outbox has nothing left to send."""
    await wait_for(lambda: settled(db(site)))


async def metrics_with(site: Site, text: str) -> str:
    """/metrics once it shows `text` (a counter that moves just after a commit)."""
    for _ in range(int(200 * UNIT)):
        metrics = (await site.http.get("/metrics")).text
        if text in metrics:
            return metrics
        await asyncio.sleep(0.025)
    raise AssertionError(f"{text} not in /metrics in time")


async def confirm(site: Site, mail: Any) -> None:
    url = local(links(mail)["confirm"], site.url)
    response = await site.http.post(url)
    assert response.status_code == 200, response.text


def subscriber_state(site: Site, address: str) -> str | None:
    with sqlite3.connect(db(site)) as conn:
        row = conn.execute("SELECT state FROM subscribers WHERE email = ?", (address,)).fetchone()
    return row[0] if row else None


async def test_confirm_then_reply_mail(mail_site: Callable[..., Any], mailbox: Mailbox) -> None:
    """Confirm first; then a reply mails the parent's author, with the right headers, the reply
    and a link to it, and no other address; unconfirmed or own replies send nothing."""
    site: Site = await mail_site()
    parent = await site.post("Who built the bridge?", email=KARI, notify=True)
    await wait_for(lambda: len(mailbox.to(KARI)) == 1)
    asking = mailbox.to(KARI)[0]
    assert "Confirm" in asking["Subject"] and set(links(asking)) == {"confirm", "unsubscribe"}
    parent_id = parent["comment"]["id"]
    await site.post("Before you confirmed.", author="Ola", email=OLA, parent=parent_id)
    await settle(site)
    assert len(mailbox.messages) == 1  # unconfirmed: nothing but the confirmation

    page = await site.http.get(local(links(asking)["confirm"], site.url))
    assert page.status_code == 200 and "<form" in page.text
    assert subscriber_state(site, KARI) == "unconfirmed"  # GET changes nothing
    await confirm(site, asking)
    assert subscriber_state(site, KARI) == "confirmed"

    reply = await site.post("Engineers, in 1932.", author="Ola", email=OLA, parent=parent_id)
    await site.post("Thanks!", email=KARI, parent=parent_id)  # her own reply: no mail
    await wait_for(lambda: len(mailbox.to(KARI)) == 2)
    await settle(site)
    assert len(mailbox.messages) == 2
    mail = mailbox.to(KARI)[1]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Engineers, in 1932." in text and "Ola wrote" in text
    assert f"{PUBLIC_URL}/articles/{SLUG}#comment-{reply['comment']['id']}" in text
    assert mail.get_body(("html",)) is not None
    assert mail["From"] == "Comments <comments@example.org>" and mail["To"] == KARI
    assert mail["List-Unsubscribe"] == f"<{links(mail)['unsubscribe']}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    key = mail["X-Realtime-Delivery"]
    assert key and mail["Message-ID"] == f"<{key}@example.org>"
    for raw in mailbox.raw:
        assert {found.lower() for found in ADDRESS.findall(raw)} <= {
            KARI.encode(),
            b"comments@example.org",
            f"{key}@example.org".encode(),
            f"{asking['X-Realtime-Delivery']}@example.org".encode(),
        }


async def test_unsubscribe_one_click(mail_site: Callable[..., Any], mailbox: Mailbox) -> None:
    """RFC 8058 one-click POST unsubscribes without a login; a forged token changes nothing."""
    site: Site = await mail_site()
    parent = await site.post("Question", email=KARI, notify=True)
    await wait_for(lambda: len(mailbox.messages) == 1)
    await confirm(site, mailbox.messages[0])
    unsubscribe = local(links(mailbox.messages[0])["unsubscribe"], site.url)
    forged = re.sub(r"token=(\d+)", lambda m: f"token={int(m.group(1)) + 1}", unsubscribe)
    refused = await site.http.post(forged, content=b"List-Unsubscribe=One-Click")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert subscriber_state(site, KARI) == "confirmed"

    response = await site.http.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert subscriber_state(site, KARI) == "unsubscribed"
    await site.post("An answer", author="Ola", parent=parent["comment"]["id"])
    await settle(site)
    assert len(mailbox.messages) == 1


async def test_moderator_approve_link(mail_site: Callable[..., Any], mailbox: Mailbox) -> None:
    """A held comment mails each moderator signed links; the approve link publishes it without
    the admin token; forged or expired links answer 403 and change nothing."""
    site: Site = await mail_site(moderation="all", moderator_emails=[MOD, "second@example.com"])
    held = await site.post("Please approve me.", email=KARI)
    await wait_for(lambda: len(mailbox.messages) == 2)
    mail = mailbox.to(MOD)[0]
    for message, raw in zip(mailbox.messages, mailbox.raw, strict=True):
        others = {MOD, "second@example.com"} - {message["To"]}
        assert KARI not in raw.decode() and not [a for a in others if a in raw.decode()]
    assert "Please approve me." in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    approve = local(links(mail)["approve"], site.url)

    with sqlite3.connect(db(site)) as conn:
        key = bytes.fromhex(
            conn.execute("SELECT value FROM meta WHERE key = 'notify_key'").fetchone()[0]
        )
    pending_id = held["comment"]["id"]
    expired = sign_link(key, "approve", pending_id, 1)
    wrong_purpose = sign_link(key, "unsubscribe", pending_id, 0)
    for token in (expired, wrong_purpose, approve.split("token=")[1][:-2] + "xx"):
        for method in ("GET", "POST"):
            refused = await site.http.request(method, f"{site.url}/notify/approve?token={token}")
            assert refused.status_code == 403, (token, refused.text)
    assert len((await site.http.get("/api/admin/pending", headers=AUTH)).json()["pending"]) == 1

    page = await site.http.get(approve)
    assert page.status_code == 200 and "Please approve me." in page.text
    done = await site.http.post(approve)
    assert done.status_code == 200, done.text
    comments = (await site.http.get(f"/api/articles/{SLUG}/comments")).json()["comments"]
    assert [c["body"] for c in comments] == ["Please approve me."]
    again = await site.http.post(local(links(mail)["reject"], site.url))
    assert again.status_code == 404  # no longer waiting
    audit = (await site.http.get("/api/admin/audit", headers=AUTH)).json()["entries"]
    assert [(e["action"], e["actor"], e["pending"]) for e in audit] == [
        ("approve", "mail-link", pending_id)
    ]


async def test_digest_and_daily_cap(mail_site: Callable[..., Any], mailbox: Mailbox) -> None:
    """Replies within the digest window go out together in one mail; the daily cap stops more."""
    site: Site = await mail_site(reply_digest_seconds=1.5, mails_per_address_per_day=3)
    parent = await site.post("Parent", email=KARI, notify=True)
    await wait_for(lambda: len(mailbox.messages) == 1)
    await confirm(site, mailbox.messages[0])
    parent_id = parent["comment"]["id"]
    for n in range(3):
        await site.post(f"reply {n}", author="Ola", parent=parent_id)
    await wait_for(lambda: len(mailbox.messages) == 3)
    await settle(site)
    texts = [m.get_body(("plain",)).get_content() for m in mailbox.messages[1:]]  # type: ignore[union-attr]
    assert "reply 0" in texts[0]  # the first goes at once; the rest wait and go together
    assert sorted(re.findall(r"reply \d", "".join(texts))) == ["reply 0", "reply 1", "reply 2"]
    assert (
        "new replies" in mailbox.messages[2]["Subject"]
        or "new replies" in mailbox.messages[1]["Subject"]
    )
    await site.post("reply over the cap", author="Ola", parent=parent_id)
    await settle(site)
    assert len(mailbox.messages) == 3  # confirmation + 2 = the cap of 3 a day


async def test_refused_mail_goes_dead_and_admin_retries(
    mail_site: Callable[..., Any], mailbox: Mailbox
) -> None:
    """A 5xx is retried with backoff, then dead; the admin list shows it with its last error and
    no address; a retry delivers it; /metrics counts retried, dead and sent by kind."""
    mailbox.refuse = f"554 5.7.1 <{KARI}>: rejected"
    site: Site = await mail_site(
        notify_max_attempts=2, notify_backoff_seconds=0.05, notify_backoff_max_seconds=0.1
    )
    await site.post("Hello", email=KARI, notify=True)
    await wait_for(lambda: outbox(db(site))[-1][3] == "dead")
    listed = await site.http.get("/api/admin/notifications", headers=AUTH)
    assert listed.status_code == 200
    [dead] = listed.json()["notifications"]
    assert dead["channel"] == "mail" and dead["event"] == "confirm" and dead["target"] is None
    assert dead["attempts"] == 2 and "554" in dead["last_error"]
    assert "kari" not in listed.text.lower()
    assert (await site.http.get("/api/admin/notifications")).status_code == 401

    mailbox.refuse = None
    ola = add_moderator(db(site), "ola")  # a named moderator may retry, and is audited
    retried = await site.http.post(f"/api/admin/notifications/{dead['id']}/retry", headers=ola)
    assert retried.status_code == 200 and retried.json()["state"] == "pending"
    await wait_for(lambda: len(mailbox.messages) == 1)
    missing = await site.http.post("/api/admin/notifications/999/retry", headers=AUTH)
    assert missing.status_code == 404
    audit = (await site.http.get("/api/admin/audit", headers=AUTH)).json()["entries"]
    assert [(e["action"], e["actor"], e["detail"]) for e in audit] == [
        ("notification-retry", "ola", f"mail confirm notification {dead['id']}"),
        ("moderator-add", "cli", "moderator ola added"),
    ]
    await settle(site)
    # The row is marked sent at COMMIT; the sender counts it when its coroutine resumes after.
    metrics = await metrics_with(site, 'realtime_notifications_sent_total{channel="mail"')
    for outcome, value in (("retried", 1), ("dead", 1), ("sent", 1)):
        line = f'realtime_notifications_{outcome}_total{{channel="mail",kind="confirm"}} {value}'
        assert line + ".0" in metrics, outcome
    assert "kari" not in metrics.lower()


@pytest.fixture
def silent_smtp() -> Iterator[SilentSmtp]:
    server = SilentSmtp()
    yield server
    server.close()


async def test_hanging_smtp_never_slows_posting(
    silent_smtp: SilentSmtp, make_site: Callable[..., Any]
) -> None:
    """With an SMTP server that never answers, posts still commit and reach readers; each
    attempt is cut off by the timeout and retried."""
    site: Site = await make_site(
        smtp_host="127.0.0.1",
        smtp_port=silent_smtp.port,
        mail_from="c@example.org",
        public_url=PUBLIC_URL,
        notify_timeout_seconds=0.3,
        notify_concurrency=2,
    )
    reader = await Reader.open(f"{site.server.ws_url}/ws/articles/{SLUG}")
    await reader.next_of("hello")
    for n in range(10):
        await site.post(f"post {n}", email=f"reader{n}@example.org", notify=True)
    comments = await reader.comments(10)
    assert [c["comment"]["body"] for c in comments] == [f"post {n}" for n in range(10)]
    await reader.close()
    await wait_for(lambda: any(row[5] and "timed out" in row[5] for row in outbox(db(site))))


async def test_notify_without_an_address_is_ignored(
    mail_site: Callable[..., Any], mailbox: Mailbox
) -> None:
    """`notify` without an e-mail posts the comment and asks nobody anything."""
    site: Site = await mail_site()
    response = await site.http.post(
        f"/api/articles/{SLUG}/comments", json={"author": "A", "body": "b", "notify": True}
    )
    assert response.status_code == 201
    with sqlite3.connect(db(site)) as conn:
        assert conn.execute("SELECT notify FROM comments").fetchall() == [(0,)]
    assert outbox(db(site)) == [] and mailbox.tries == 0


async def test_rolled_back_change_writes_no_notification(
    mail_site: Callable[..., Any], mailbox: Mailbox
) -> None:
    """A post that fails inside its transaction (closed article) leaves no outbox row, while a
    post in the same group commit that succeeds does."""
    site: Site = await mail_site()
    await site.article("other", "Other")
    closed = await site.http.post(f"/api/admin/articles/{SLUG}/close", headers=AUTH)
    assert closed.status_code == 200
    results = await asyncio.gather(
        *(
            site.http.post(
                f"/api/articles/{slug}/comments",
                json={"author": "A", "body": f"to {slug}", "email": KARI, "notify": True},
            )
            for slug in (SLUG, "other")
        )
    )
    assert [r.status_code for r in results] == [403, 201]
    await settle(site)
    assert [row[2] for row in outbox(db(site))] == ["confirm"]
    assert isinstance(site.http, httpx.AsyncClient)


async def test_reply_mail_quotes_a_formatted_reply_as_typed(
    mail_site: Callable[..., Any], mailbox: Mailbox
) -> None:
    """A Markdown reply is mailed as its body, as typed: never the server's html, and markup in
    it is escaped in the mail's HTML part."""
    site: Site = await mail_site()
    parent = await site.post("Who built the bridge?", email=KARI, notify=True)
    await wait_for(lambda: len(mailbox.to(KARI)) == 1)
    await confirm(site, mailbox.to(KARI)[0])
    body = "**Engineers**, <b>in</b> 1932:\n\n- [plans](https://example.org/plans)"
    reply = await site.post(body, author="Ola", parent=parent["comment"]["id"])
    assert "<strong>Engineers</strong>" in reply["comment"]["html"]  # formatted on the page
    await wait_for(lambda: len(mailbox.to(KARI)) == 2)
    mail = mailbox.to(KARI)[1]
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert body in text and "<strong>" not in text
    html_part = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "**Engineers**, &lt;b&gt;in&lt;/b&gt; 1932:" in html_part
    assert "<strong>" not in html_part and "<b>" not in html_part
    assert 'href="https://example.org/plans"' not in html_part  # a commenter's link stays text
