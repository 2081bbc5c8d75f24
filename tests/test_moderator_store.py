"""The SQL of moderators, the audit trail, bans and a commenter's data, on a real SQLite file and a
real PostgreSQL database alike: the same Store, the same results."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import msgspec
import pytest

from realtime.errors import Conflict, NotFound
from realtime.formatting import render
from realtime.models import ArticleIn, BanIn
from realtime.store import NewComment, Store
from realtime.store.audit import Note
from realtime.store.notices import Hook, Rules
from realtime.store.privacy import DELETED_AUTHOR, Commenter
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("store_kind", STORES)

AT = "2026-11-26T12:00:00.000Z"
LATER = "2026-11-26T13:00:00.000Z"
KARI = Commenter("kari@example.org", "a" * 32, b"\x01" * 32)


def note(action: str, actor: str = "ola", at: str = AT) -> Note:
    return Note(actor=actor, moderator=None, action=action, at=at)


def comment(
    body: str, email: str | None = KARI.email, network: bytes | None = b"\x02" * 32
) -> NewComment:
    return NewComment(
        article="a",
        parent=None,
        author="Kari",
        email=email,
        avatar=KARI.avatar if email == KARI.email else "b" * 32,
        body=body,
        created=AT,
        token_hash=b"\x00" * 32,
        html=render(body, "text"),
        format="text",
        client_prefix="203.0.113.0/24" if network else None,
        client_key=network,
    )


def email_key(email: str) -> bytes:
    return KARI.email_key if email == KARI.email else b"\x09" * 32


@pytest.fixture
async def store(new_db: Callable[[], str]) -> AsyncIterator[Store]:
    opened = await Store.open(new_db())
    await opened.put_article("a", ArticleIn(title="A"), AT)
    yield opened
    await opened.close()


async def test_moderators_are_added_found_and_revoked(store: Store) -> None:
    """Only the hash is looked up; one active moderator per name; each change moves `rev`."""
    assert len(store.ban_key) == 32 and await store.moderators.revision() == 0
    kari = await store.moderators.add("kari", b"\x11" * 32, AT, note("moderator-add", "cli"))
    assert (await store.moderators.find(b"\x11" * 32)) is not None
    with pytest.raises(Conflict):
        await store.moderators.add("kari", b"\x12" * 32, AT, note("moderator-add", "cli"))
    first = await store.moderators.revision()
    await store.moderators.revoke("kari", LATER, note("moderator-revoke", "cli"))
    found = await store.moderators.find(b"\x11" * 32)
    assert found is not None and found.revoked and not await store.moderators.active(kari.id)
    assert await store.moderators.revision() > first
    assert await store.moderators.revoked_since(first) == [kari.id]
    with pytest.raises(NotFound):
        await store.moderators.revoke("kari", LATER, note("moderator-revoke", "cli"))
    again = await store.moderators.add("kari", b"\x13" * 32, LATER, note("moderator-add", "cli"))
    assert again.id != kari.id and [m.revoked is None for m in await store.moderators.all()] == [
        True,
        False,
    ]


async def test_audit_rows_share_their_actions_transaction(store: Store) -> None:
    """A held comment approved, another rejected, a close: three rows; a failed approval none."""
    held = await store.hold_comment(comment("one"), "every comment is moderated")
    dropped = await store.hold_comment(comment("two"), "every comment is moderated")
    posted = await store.approve(held.id, note=note("approve"))
    await store.reject(dropped.id, note=note("reject"))
    with pytest.raises(NotFound):
        await store.approve(held.id, note=note("approve"))
    await store.set_closed("a", True, note=note("close"))
    page = await store.audit_page(None, 2)
    assert [(e.action, e.comment, e.pending) for e in page.entries] == [
        ("close", None, None),
        ("reject", None, dropped.id),
    ]
    rest = await store.audit_page(page.next, 2)
    assert [(e.action, e.comment, e.pending, e.article) for e in rest.entries] == [
        ("approve", posted.comment.id, held.id, "a")
    ]
    assert rest.next is None


async def test_bans_are_made_matched_searched_and_lifted(store: Store) -> None:
    """A ban keeps the hashes, never the e-mail; it is in force until lifted or past its end."""
    posted = await store.add_comment(comment("spam"))
    made = await store.bans.add(
        "comments", posted.comment.id, BanIn(reason="Spam 100%"), LATER, email_key, note("ban")
    )
    assert made.address == "203.0.113.0/24" and made.email and made.active
    in_force = await store.bans.in_force(AT)
    assert [(b.address_key, b.email_key, b.expires) for b in in_force] == [
        (b"\x02" * 32, KARI.email_key, LATER)
    ]
    assert await store.bans.in_force(LATER) == []  # ended by itself
    assert [b.id for b in (await store.bans.search(AT, text="100%")).bans] == [made.id]
    assert (await store.bans.search(AT, text="10_%")).bans == []  # LIKE's own signs are text
    assert [b.id for b in (await store.bans.search(AT, email_key=KARI.email_key)).bans] == [made.id]
    rev = await store.bans.revision()
    lifted = await store.bans.lift(made.id, note("unban"))
    assert not lifted.active and lifted.lifted_by == "ola" and await store.bans.revision() > rev
    assert (await store.bans.search(AT)).bans == []
    assert len((await store.bans.search(AT, everything=True)).bans) == 1


async def test_a_ban_on_what_is_not_kept_is_refused(store: Store) -> None:
    """No e-mail and no network kept: 409, and no row written."""
    bare = await store.add_comment(comment("anonymous", email=None, network=None))
    with pytest.raises(Conflict):
        await store.bans.add(
            "comments", bare.comment.id, BanIn(reason="x"), None, email_key, note("ban")
        )
    with pytest.raises(NotFound):
        await store.bans.add("pending", 999, BanIn(reason="x"), None, email_key, note("ban"))
    assert (await store.bans.search(AT, everything=True)).bans == []
    assert (await store.audit_page(None, 10)).entries == []


async def test_networks_are_erased_past_the_cutoff(store: Store) -> None:
    """Comments and held comments lose the network kept for bans once older than the cutoff."""
    await store.add_comment(comment("kept a while"))
    await store.hold_comment(comment("held"), "r")
    assert await store.bans.erase_networks(AT) == 0
    assert await store.bans.erase_networks(LATER) == 2
    exported = await store.privacy.export(KARI, LATER)
    assert [c.network for c in exported.comments] == [None]
    assert [h.network for h in exported.pending] == [None]


async def test_forget_anonymises_and_export_finds_everything(store: Store) -> None:
    """Export lists the comments, held ones and bans; forget leaves only the nameless ban."""
    first = await store.add_comment(comment("first"))
    kept = await store.add_comment(comment("kept"))
    await store.add_comment(comment("someone else", email="ola@example.org", network=None))
    await store.hold_comment(comment("held"), "r")
    await store.bans.add(
        "comments", first.comment.id, BanIn(reason="r"), None, email_key, note("ban")
    )
    before = await store.privacy.export(KARI, AT)
    assert [c.body for c in before.comments] == ["first", "kept"] and len(before.pending) == 1
    assert [b.author for b in before.bans] == ["Kari"]
    done = await store.privacy.forget(KARI, False, note("forget", "owner"))
    assert [r.id for r in done.removed] == [first.comment.id, kept.comment.id]
    assert [r.count for r in done.removed] == [2, 1] and len(done.pending) == 1 and done.bans == 1
    assert (await store.get_article("a")).count == 1  # type: ignore[union-attr]
    after = await store.privacy.export(KARI, AT)
    assert after.comments == [] and after.pending == []
    assert [(b.author, b.active) for b in after.bans] == [(DELETED_AUTHOR, True)]
    assert await store.backend.scrub()


async def test_forget_keeping_the_text_edits_in_place(store: Store) -> None:
    """With the text kept, each comment is an edit: author "deleted", no avatar, a new rev."""
    posted = await store.add_comment(comment("stays"))
    done = await store.privacy.forget(KARI, True, note("forget", "owner"))
    (edited,) = done.edited
    assert edited.comment.id == posted.comment.id and edited.comment.body == "stays"
    assert edited.comment.author == DELETED_AUTHOR and edited.comment.avatar == "0" * 32
    assert edited.rev > 0 and done.removed == []
    author = await store.authorship(posted.comment.id)
    assert author is not None and author.token_hash == b"" and author.published


HOOK = "http://127.0.0.1:9/hook"  # never called: nothing sends in these tests
OLA = "ola@example.org"


def replying(body: str, parent: int, email: str | None, avatar: str) -> NewComment:
    return NewComment(
        article="a",
        parent=parent,
        author="Kari" if email == KARI.email else "Per",
        email=email,
        avatar=avatar,
        body=body,
        created=AT,
        token_hash=b"\x00" * 32,
        html=render(body, "text"),
        format="text",
        notify=email is not None,
    )


async def outbox_payloads(store: Store) -> list[tuple[str, str, bytes]]:
    rows = await store.backend.reader().all("SELECT event, target, payload FROM outbox ORDER BY id")
    return [(str(event), str(target), bytes(payload)) for event, target, payload in rows]


async def test_forget_drops_the_subscription_and_every_notification_that_holds_them(
    store: Store,
) -> None:
    """Their subscription, mails to them, webhooks and alerts about their comments go; a digest
    to someone else keeps only the others' replies; export showed it all before."""
    hooks = (Hook(HOOK, frozenset({"comment.published", "comment.held", "comment.deleted"})),)
    store.rules = Rules(hooks=hooks, mail=True, moderators=("mods@example.org",))
    store.rules = msgspec.structs.replace(store.rules, digest_seconds=3600.0)
    ola = await store.add_comment(
        msgspec.structs.replace(
            comment("Ola's", email=OLA), author="Ola", avatar="c" * 32, notify=True
        )
    )
    (subscriber,) = await store.backend.reader().one("SELECT id FROM subscribers")
    assert await store.set_subscription(int(subscriber), "confirmed")
    parent = ola.comment.id
    # One digest to Ola (nothing is sent here, so each reply joins the first mail's row).
    await store.add_comment(replying("Per first", parent, None, "d" * 32))
    await store.add_comment(replying("Kari replies", parent, KARI.email, KARI.avatar))
    await store.add_comment(replying("Per again", parent, None, "d" * 32))
    await store.hold_comment(comment("held"), "r")
    before = await store.privacy.export(KARI, AT)
    assert before.subscription is not None and before.subscription.state == "unconfirmed"
    assert [n.event for n in before.notifications] == ["confirm"]
    assert KARI.email in {target for _, target, _ in await outbox_payloads(store)}
    done = await store.privacy.forget(KARI, False, note("forget", "owner"))
    assert (done.subscriptions, done.removed[0].count) == (1, 3)
    rows = await outbox_payloads(store)
    for _, target, payload in rows:
        assert KARI.email not in target and KARI.avatar.encode() not in payload
        assert b"Kari" not in payload and b"held" not in payload
    (digest,) = [payload for event, target, payload in rows if event == "reply"]
    assert b"Per first" in digest and b"Per again" in digest  # only Kari's reply left it
    assert ("comment.deleted", HOOK) in {(event, target) for event, target, _ in rows}
    assert done.notifications == len(before.notifications) + 4  # 2 hooks, alert, digest
    after = await store.privacy.export(KARI, AT)
    assert after.subscription is None and after.notifications == []
    assert await store.backend.reader().one(
        "SELECT count(*) FROM subscribers WHERE email = ?", (OLA,)
    ) == (1,)
