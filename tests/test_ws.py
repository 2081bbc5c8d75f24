"""The live thread over real WebSockets: fan-out, order, resume, close codes, watchers."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import ADMIN, STORES, post_comment
from tests.servers import ThreadServer, wait_for
from tests.wsclient import Reader

pytestmark = pytest.mark.parametrize("store_kind", STORES)


def thread_url(server: ThreadServer, slug: str, query: str = "") -> str:
    return f"{server.ws_url}/ws/articles/{slug}{query}"


async def test_hello_first(server: ThreadServer, client: httpx.AsyncClient, article: str) -> None:
    """The first message is hello with the count, the last id and the watchers."""
    posted = (await post_comment(client, article)).json()["comment"]
    reader = await Reader.open(thread_url(server, article))
    hello = await reader.next()
    assert hello == {
        "type": "hello",
        "article": article,
        "count": 1,
        "last": posted["id"],
        "watchers": 1,
        "closed": False,
        "rev": 0,
    }
    await reader.close()


async def test_post_reaches_fifty_readers(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """One POST reaches every one of 50 connected readers, with the new count."""
    readers = await asyncio.gather(*(Reader.open(thread_url(server, article)) for _ in range(50)))
    for reader in readers:
        assert (await reader.next())["type"] == "hello"
    created = (await post_comment(client, article, body="to everyone")).json()["comment"]
    events = await asyncio.gather(*(reader.next_of("comment") for reader in readers))
    for event in events:
        assert event["comment"] == created and event["count"] == 1
    await asyncio.gather(*(reader.close() for reader in readers))


async def test_concurrent_posts_arrive_complete_and_in_order(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """20 tasks post 200 comments at once: every reader gets all 200, ids increasing."""
    readers = await asyncio.gather(*(Reader.open(thread_url(server, article)) for _ in range(5)))
    for reader in readers:
        await reader.next()

    async def poster(worker: int) -> list[int]:
        ids = []
        for n in range(10):
            response = await post_comment(client, article, body=f"worker {worker} #{n}")
            assert response.status_code == 201
            ids.append(response.json()["comment"]["id"])
        return ids

    posted = sorted(i for ids in await asyncio.gather(*(poster(w) for w in range(20))) for i in ids)
    for reader in readers:
        events = await reader.comments(200, timeout=30)
        ids = [event["comment"]["id"] for event in events]
        assert ids == posted
        assert [event["count"] for event in events] == list(range(1, 201))
    assert (await client.get(f"/api/articles/{article}")).json()["count"] == 200
    stats = server.service.store.writer.stats
    assert stats.jobs >= 200 and stats.transactions < stats.jobs  # posts were grouped
    await asyncio.gather(*(reader.close() for reader in readers))


async def test_resume_while_posting_has_no_gap_or_duplicate(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Readers that reconnect with ?after= while comments are being posted miss nothing."""
    for n in range(30):
        await post_comment(client, article, body=f"before {n}")
    stop = asyncio.Event()

    async def keep_posting() -> int:
        sent = 0
        while not stop.is_set() and sent < 400:
            assert (await post_comment(client, article, body=f"during {sent}")).status_code == 201
            sent += 1
        return sent

    posting = asyncio.create_task(keep_posting())

    async def resume(after: int) -> list[int]:
        reader = await Reader.open(thread_url(server, article, f"?after={after}"))
        hello = await reader.next()
        assert hello["type"] == "hello"
        ids: list[int] = []
        while not ids or ids[-1] < hello["last"] or len(ids) < 40:
            ids.append((await reader.next_of("comment"))["comment"]["id"])
        await reader.close()
        return ids

    results = await asyncio.gather(*(resume(after) for after in (0, 5, 17, 29, 30)))
    stop.set()
    await posting
    everything = [
        c["id"]
        for c in (await client.get(f"/api/articles/{article}/comments?limit=500")).json()[
            "comments"
        ]
    ]
    for after, ids in zip((0, 5, 17, 29, 30), results, strict=True):
        expected = [i for i in everything if i > after][: len(ids)]
        assert ids == expected, f"after={after}"


async def test_unknown_article_closes_4404(server: ThreadServer) -> None:
    """An unknown article is accepted, then closed with 4404 before any hello."""
    reader = await Reader.open(thread_url(server, "no-such-article"))
    assert await reader.close_code() == 4404
    assert reader.events == []


async def test_oversized_frame_closes_1009(server: ThreadServer, article: str) -> None:
    """A client frame over 4 KiB closes the connection with 1009."""
    reader = await Reader.open(thread_url(server, article))
    await reader.next()
    await reader.connection.send("x" * 5000)
    assert await reader.close_code() == 1009


async def test_malformed_messages_close_1008(server: ThreadServer, article: str) -> None:
    """Malformed JSON, an unknown type and a binary frame each close with 1008."""
    for bad in ("{not json", '{"type":"subscribe"}', b"\x00\x01", '{"type":"ping","x":1}'):
        reader = await Reader.open(thread_url(server, article))
        await reader.next()
        await reader.connection.send(bad)
        assert await reader.close_code() == 1008, bad


async def test_ping_pong(server: ThreadServer, article: str) -> None:
    """A client ping is answered with a pong."""
    reader = await Reader.open(thread_url(server, article))
    await reader.next()
    await reader.connection.send('{"type":"ping"}')
    assert await reader.next_of("pong") == {"type": "pong"}
    await reader.close()


async def test_bad_after_closes_1008(server: ThreadServer, article: str) -> None:
    """?after= must be a comment id."""
    reader = await Reader.open(thread_url(server, article, "?after=abc"))
    assert await reader.close_code() == 1008


async def test_edit_and_delete_events(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Edits and removals reach readers live, with the new count on delete."""
    reader = await Reader.open(thread_url(server, article))
    await reader.next()
    created = (await post_comment(client, article)).json()
    cid = created["comment"]["id"]
    auth = {"Authorization": f"Bearer {created['token']}"}
    await reader.next_of("comment")
    await client.patch(f"/api/comments/{cid}", json={"body": "changed"}, headers=auth)
    edit = await reader.next_of("edit")
    assert edit["comment"]["body"] == "changed" and edit["comment"]["edited"]
    await client.delete(f"/api/comments/{cid}", headers=auth)
    delete = await reader.next_of("delete")
    assert delete == {"type": "delete", "id": cid, "count": 0, "rev": edit["rev"] + 1}
    await reader.close()


async def test_watchers_follow_readers(server: ThreadServer, article: str) -> None:
    """Readers see the number of open readers change, throttled to about once a second."""
    first = await Reader.open(thread_url(server, article))
    await first.next()
    second = await Reader.open(thread_url(server, article))
    assert (await second.next())["watchers"] == 2
    assert (await first.next_of("watchers"))["count"] == 2
    await second.close()
    assert (await first.next_of("watchers"))["count"] == 1
    await first.close()


async def test_counts_stream(server: ThreadServer, client: httpx.AsyncClient, article: str) -> None:
    """/ws/counts sends a snapshot, then each change of a watched article's count."""
    auth = {"Authorization": f"Bearer {ADMIN}"}
    await client.put("/api/articles/other", json={"title": "Other"}, headers=auth)
    reader = await Reader.open(f"{server.ws_url}/ws/counts?articles={article},other,missing")
    assert await reader.next() == {
        "type": "counts",
        "counts": {article: 0, "other": 0, "missing": 0},
    }
    await post_comment(client, "other")
    assert await reader.next() == {"type": "count", "article": "other", "count": 1}
    await reader.close()


async def test_slow_reader_is_closed_and_others_unaffected(
    start_server: Any,
) -> None:
    """A reader that stops reading is closed with 1013; a reading one gets everything."""
    server = start_server(reader_backlog_bytes=256 * 1024)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put(
            "/api/articles/busy",
            json={"title": "Busy"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        # A tiny receive buffer and no reading: the server's backlog for it must grow.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        slow = await websockets.connect(thread_url(server, "busy"), sock=sock, max_queue=1)
        fast = await Reader.open(thread_url(server, "busy"))
        await fast.next()
        # 4-byte characters: ~40 KB per event, enough to fill the kernel's socket buffers
        # (up to 4 MiB on the server side) and then the server's 256 KiB bound.
        body = "\U0001f4f0" * 9990
        receiving = asyncio.create_task(fast.comments(200, timeout=30))
        for n in range(200):
            assert (await post_comment(http, "busy", body=f"{n} {body}")).status_code == 201
        received = await receiving
        assert [e["comment"]["body"].split()[0] for e in received] == [str(n) for n in range(200)]
        await wait_for(lambda: server.service.hub.subscribers("article:busy") == 1, 10)
        codes = []
        try:
            async with asyncio.timeout(10):
                while True:
                    await slow.recv()
        except websockets.ConnectionClosed as closed:
            codes.append(closed.rcvd.code if closed.rcvd else None)
        assert codes == [1013]
        assert server.service.hub.stats.slow_readers_closed == 1
        await fast.close()


async def test_counts_stream_refuses_bad_slug_lists(server: ThreadServer) -> None:
    """/ws/counts closes with 1008 on a malformed slug or more than 200 of them."""
    many = ",".join(f"s{n}" for n in range(201))
    for query in ("Not_A_Slug", many):
        reader = await Reader.open(f"{server.ws_url}/ws/counts?articles={query}")
        assert await reader.close_code() == 1008


async def test_resume_with_rev_replays_missed_edits_and_deletions(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """A reader back with ?after=&rev= gets the edits and deletions it missed, once, in order."""
    posted = [(await post_comment(client, article, body=f"c{n}")).json() for n in range(3)]
    page = (await client.get(f"/api/articles/{article}/comments")).json()
    last, rev = page["comments"][-1]["id"], page["rev"]
    auth = [{"Authorization": f"Bearer {p['token']}"} for p in posted]
    ids = [p["comment"]["id"] for p in posted]
    # While the reader is away: an edit, a deletion, a second edit, and a new comment.
    await client.patch(f"/api/comments/{ids[0]}", json={"body": "c0 fixed"}, headers=auth[0])
    await client.delete(f"/api/comments/{ids[1]}", headers=auth[1])
    await client.patch(f"/api/comments/{ids[0]}", json={"body": "c0 fixed twice"}, headers=auth[0])
    new = (await post_comment(client, article, body="c3")).json()["comment"]["id"]
    reader = await Reader.open(thread_url(server, article, f"?after={last}&rev={rev}"))
    hello = await reader.next()
    assert hello["rev"] > rev
    assert (await reader.next())["comment"]["id"] == new
    delete, edit = await reader.next(), await reader.next()  # in change order
    assert delete == {"type": "delete", "id": ids[1], "count": 3, "rev": delete["rev"]}
    assert edit["type"] == "edit" and edit["comment"]["body"] == "c0 fixed twice"
    assert edit["rev"] == hello["rev"] > delete["rev"] > rev  # one event per comment, newest state
    await client.patch(f"/api/comments/{ids[2]}", json={"body": "c2 live"}, headers=auth[2])
    live = await reader.next_of("edit")
    assert live["comment"]["body"] == "c2 live" and live["rev"] > hello["rev"]
    await reader.close()


async def test_bad_rev_closes_1008(server: ThreadServer, article: str) -> None:
    """?rev= must be a non-negative integer."""
    reader = await Reader.open(thread_url(server, article, "?after=0&rev=-1"))
    assert await reader.close_code() == 1008
