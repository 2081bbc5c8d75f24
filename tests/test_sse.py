"""Server-Sent Events: the WebSocket's events over plain HTTP, resume by Last-Event-ID, limits."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import httpx

from realtime.live.hub import HubStats, Message
from realtime.web.resume import Position
from realtime.web.sse import Cursor, DirectEvents, SharedChunk, chunk
from tests.conftest import ADMIN, post_comment
from tests.servers import UNIT, ThreadServer, make_settings, wait_for
from tests.sseclient import SseReader
from tests.wsclient import Reader

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def sse_url(server: ThreadServer, slug: str, query: str = "") -> str:
    return f"{server.url}/sse/articles/{slug}{query}"


async def test_hello_first_with_its_position_as_id(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """The stream is text/event-stream; hello comes first, its id the position `last.rev`."""
    posted = (await post_comment(client, article)).json()["comment"]
    reader = await SseReader.open(sse_url(server, article))
    assert reader.response.status_code == 200
    assert reader.response.headers["content-type"].startswith("text/event-stream")
    assert reader.response.headers["cache-control"] == "no-store"
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
    assert reader.last_id == f"{posted['id']}.0"
    await reader.close()


async def test_same_events_as_the_websocket(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Comment, edit, delete and closed reach an SSE reader exactly as a WebSocket reader."""
    ws = await Reader.open(f"{server.ws_url}/ws/articles/{article}")
    sse = await SseReader.open(sse_url(server, article))
    await ws.next(), await sse.next()
    first = (await post_comment(client, article, body="one")).json()
    second = (await post_comment(client, article, body="two")).json()
    token = {"Authorization": f"Bearer {first['token']}"}
    await client.patch(f"/api/comments/{first['comment']['id']}", json={"body": "1"}, headers=token)
    await client.delete(f"/api/comments/{second['comment']['id']}", headers=AUTH)
    await client.post(f"/api/admin/articles/{article}/close", headers=AUTH)

    async def until_closed(next_event: Any) -> list[dict[str, Any]]:
        events = []
        while not events or events[-1]["type"] != "closed":
            event = await next_event()
            if event["type"] != "watchers":
                events.append(event)
        return events

    via_ws, via_sse = await until_closed(ws.next), await until_closed(sse.next)
    assert [e["type"] for e in via_sse] == ["comment", "comment", "edit", "delete", "closed"]
    assert via_sse == via_ws
    edit, delete = via_sse[2], via_sse[3]
    assert (
        sse.last_id == f"{second['comment']['id']}.{delete['rev']}" and delete["rev"] > edit["rev"]
    )
    await ws.close()
    await sse.close()


async def test_comment_ids_are_the_event_ids(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Each comment event's id starts with the comment's id (replayed and live alike)."""
    for n in range(3):
        await post_comment(client, article, body=f"old {n}")
    reader = await SseReader.open(sse_url(server, article, "?after=0"))
    await reader.next()
    seen = []
    for n in range(5):
        if n == 3:
            await post_comment(client, article, body="live")
            await post_comment(client, article, body="live too")
        event = await reader.next_of("comment")
        seen.append((event["comment"]["id"], reader.last_id))
    assert [last_id for _, last_id in seen] == [f"{cid}.0" for cid, _ in seen]
    assert [cid for cid, _ in seen] == sorted(cid for cid, _ in seen)
    await reader.close()


async def test_last_event_id_resumes_without_gap_or_duplicate(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Readers that drop and come back with Last-Event-ID while comments are posted miss
    nothing and get nothing twice."""
    for n in range(20):
        await post_comment(client, article, body=f"before {n}")
    stop = asyncio.Event()

    async def keep_posting() -> None:
        for n in range(300):
            if stop.is_set():
                return
            assert (await post_comment(client, article, body=f"during {n}")).status_code == 201

    posting = asyncio.create_task(keep_posting())

    async def read_in_stretches(after: int) -> list[int]:
        ids: list[int] = []
        last_id: str | None = None
        for stretch in range(4):
            headers = {"Last-Event-ID": last_id} if last_id else {}
            reader = await SseReader.open(sse_url(server, article, f"?after={after}"), headers)
            await reader.next_of("hello")
            ids += await reader.comment_ids(10 + 7 * stretch)
            last_id = reader.last_id
            await reader.close()
        return ids

    results = await asyncio.gather(*(read_in_stretches(after) for after in (0, 7, 19)))
    stop.set()
    await posting
    page = (await client.get(f"/api/articles/{article}/comments?limit=500")).json()
    everything = [comment["id"] for comment in page["comments"]]
    for after, ids in zip((0, 7, 19), results, strict=True):
        assert ids == [i for i in everything if i > after][: len(ids)], f"after={after}"


async def test_last_event_id_carries_the_change_number(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Back with Last-Event-ID, a reader gets the edits and deletions it missed, and not again
    the ones it had: the id carries both the comment id and the change number."""
    posted = [(await post_comment(client, article, body=f"c{n}")).json() for n in range(3)]
    ids = [p["comment"]["id"] for p in posted]
    auth = [{"Authorization": f"Bearer {p['token']}"} for p in posted]
    reader = await SseReader.open(sse_url(server, article, "?after=0&rev=0"))
    await reader.next_of("hello")
    await client.patch(f"/api/comments/{ids[2]}", json={"body": "c2 had"}, headers=auth[2])
    had = await reader.next_of("edit")
    assert reader.last_id == f"{ids[2]}.{had['rev']}"
    await reader.close()
    # While the reader is away: an edit, a deletion, and a new comment.
    await client.patch(f"/api/comments/{ids[0]}", json={"body": "c0 fixed"}, headers=auth[0])
    await client.delete(f"/api/comments/{ids[1]}", headers=auth[1])
    new = (await post_comment(client, article, body="c3")).json()["comment"]["id"]
    back = await SseReader.open(sse_url(server, article), {"Last-Event-ID": reader.last_id or ""})
    hello = await back.next()
    assert hello["type"] == "hello"
    assert (await back.next())["comment"]["id"] == new
    edit, delete = await back.next(), await back.next()  # in change order, the new ones only
    assert edit["type"] == "edit" and edit["comment"]["body"] == "c0 fixed"
    assert delete == {"type": "delete", "id": ids[1], "count": 3, "rev": hello["rev"]}
    assert back.last_id == f"{new}.{hello['rev']}"
    await client.patch(f"/api/comments/{ids[2]}", json={"body": "c2 live"}, headers=auth[2])
    live = await back.next_of("edit")
    assert live["comment"]["body"] == "c2 live" and back.last_id == f"{new}.{live['rev']}"
    await back.close()


async def test_query_after_and_rev_as_on_the_websocket(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """?after=&rev= replays the same events over SSE as over the WebSocket."""
    posted = [(await post_comment(client, article, body=f"c{n}")).json() for n in range(3)]
    page = (await client.get(f"/api/articles/{article}/comments")).json()
    last, rev = page["comments"][-1]["id"], page["rev"]
    token = {"Authorization": f"Bearer {posted[0]['token']}"}
    await client.patch(
        f"/api/comments/{posted[0]['comment']['id']}", json={"body": "x"}, headers=token
    )
    await client.delete(f"/api/comments/{posted[1]['comment']['id']}", headers=AUTH)
    await post_comment(client, article, body="c3")
    query = f"?after={last}&rev={rev}"
    ws = await Reader.open(f"{server.ws_url}/ws/articles/{article}{query}")
    sse = await SseReader.open(sse_url(server, article, query))
    via_ws = [await ws.next() for _ in range(4)]
    via_sse = [await sse.next() for _ in range(4)]
    via_ws[0]["watchers"] = via_sse[0]["watchers"] = 0  # each counts the other, or not yet
    assert via_sse == via_ws
    assert [e["type"] for e in via_sse] == ["hello", "comment", "edit", "delete"]
    await ws.close()
    await sse.close()


async def test_bad_requests_answer_in_the_error_shape(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Unknown article 404, bad after/rev/Last-Event-ID/slug lists 422, all in the API's shape."""
    cases = [
        ("/sse/articles/no-such-article", {}, 404, None),
        ("/sse/articles/Not_A_Slug", {}, 404, None),
        (f"/sse/articles/{article}?after=x", {}, 422, "after"),
        (f"/sse/articles/{article}?after=0&rev=-1", {}, 422, "rev"),
        (f"/sse/articles/{article}", {"Last-Event-ID": "12.x"}, 422, "Last-Event-ID"),
        (f"/sse/articles/{article}", {"Last-Event-ID": "abc"}, 422, "Last-Event-ID"),
        ("/sse/counts?articles=Not_A_Slug", {}, 422, "articles"),
    ]
    for path, headers, status, field in cases:
        response = await client.get(path, headers=headers)
        assert response.status_code == status, path
        error = response.json()["error"]
        assert error["status"] == status and error["field"] == field, path
    assert server.service.sockets.open == 0


async def test_origin_rules_as_the_websocket(start_server: Any) -> None:
    """A foreign Origin is refused (403); ours and the allowed ones read, with CORS headers."""
    server = start_server(allowed_origins=["https://news.example"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        await http.put("/api/articles/a", json={"title": "A"}, headers=AUTH)
        refused = await http.get("/sse/articles/a", headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    for origin in ("https://news.example", server.url):
        reader = await SseReader.open(sse_url(server, "a"), {"Origin": origin})
        assert reader.response.status_code == 200
        assert (await reader.next())["type"] == "hello"
        if origin != server.url:
            assert reader.response.headers["access-control-allow-origin"] == origin
        await reader.close()


async def test_socket_limits_shared_with_websockets(start_server: Any) -> None:
    """SSE streams count against the same per-client limit as WebSockets: past it, 503."""
    server = start_server(rate_limit="on", max_readers_per_client=2)
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        await http.put("/api/articles/a", json={"title": "A"}, headers=AUTH)
        ws = await Reader.open(f"{server.ws_url}/ws/articles/a")
        sse = await SseReader.open(sse_url(server, "a"))
        await ws.next(), await sse.next()
        refused = await http.get("/sse/articles/a")
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
        await sse.close()
        await wait_for(lambda: server.service.sockets.open == 1)
        again = await SseReader.open(sse_url(server, "a"))
        assert (await again.next())["type"] == "hello"
        await again.close()
        await ws.close()


async def test_keepalive_comment_lines(start_server: Any) -> None:
    """A quiet stream gets a comment line every `sse_keepalive_seconds`."""
    server = start_server(sse_keepalive_seconds=0.2)
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        await http.put("/api/articles/a", json={"title": "A"}, headers=AUTH)
    reader = await SseReader.open(sse_url(server, "a"))
    await reader.next()

    async def read_on() -> None:
        while True:
            await reader.next(timeout=5)  # watchers events; the comment lines are counted

    reading = asyncio.create_task(read_on())
    await wait_for(lambda: reader.comments >= 3, 5)
    reading.cancel()
    await reader.close()


async def test_counts_stream(server: ThreadServer, client: httpx.AsyncClient, article: str) -> None:
    """/sse/counts: the counts first, then each change, with no ids."""
    reader = await SseReader.open(f"{server.url}/sse/counts?articles={article},other")
    assert await reader.next() == {"type": "counts", "counts": {article: 0, "other": 0}}
    await post_comment(client, article)
    assert await reader.next() == {"type": "count", "article": article, "count": 1}
    assert reader.last_id is None
    await reader.close()


async def test_head_answers_headers_only(server: ThreadServer, client: httpx.AsyncClient) -> None:
    """HEAD on a stream answers its headers and ends, holding no reader slot."""
    response = await client.head("/sse/counts?articles=a")
    assert response.status_code == 200 and response.content == b""
    await wait_for(lambda: server.service.sockets.open == 0)


async def test_slow_reader_stream_is_ended_and_others_unaffected(start_server: Any) -> None:
    """A reader that stops reading has its stream ended; a reading one gets everything."""
    server = start_server(reader_backlog_bytes=256 * 1024)
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        await http.put("/api/articles/busy", json={"title": "Busy"}, headers=AUTH)
        # A tiny receive buffer and no reading: the server's backlog for it must grow.
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.port))
        slow.sendall(b"GET /sse/articles/busy HTTP/1.1\r\nHost: x\r\n\r\n")
        fast = await SseReader.open(sse_url(server, "busy"))
        await fast.next()
        await wait_for(lambda: server.service.hub.subscribers("article:busy") == 2)
        body = "\U0001f4f0" * 9990  # ~40 KB per event
        receiving = asyncio.create_task(fast.comment_ids(200, timeout=30))
        for n in range(200):
            assert (await post_comment(http, "busy", body=f"{n} {body}")).status_code == 201
        assert len(await receiving) == 200
        await wait_for(lambda: server.service.hub.subscribers("article:busy") == 1, 10)
        assert server.service.hub.stats.slow_readers_closed == 1
        slow.close()
        await fast.close()


async def test_shutdown_ends_streams_at_once(start_server: Any) -> None:
    """On shutdown the server ends its event streams instead of waiting out the grace time."""
    server = start_server()
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        await http.put("/api/articles/a", json={"title": "A"}, headers=AUTH)
    reader = await SseReader.open(sse_url(server, "a"))
    await reader.next()
    started = time.monotonic()
    stopping = asyncio.get_running_loop().run_in_executor(None, server.stop)
    assert await reader.ends(timeout=5)
    await stopping
    assert time.monotonic() - started < 5 * UNIT  # uvicorn's graceful timeout is 10 s
    await reader.close()


async def test_portable_path_under_a_stock_uvicorn(tmp_path: Path) -> None:
    """Without the direct stream (another ASGI server), sse-starlette serves the same stream."""
    settings = make_settings(tmp_path / "db.sqlite", admin_token=ADMIN, rate_limit="off")
    server = ThreadServer(settings, http="httptools").start()
    try:
        await _portable_stream(server)
    finally:
        server.stop()


async def _portable_stream(server: ThreadServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10 * UNIT) as http:
        await http.put("/api/articles/a", json={"title": "A"}, headers=AUTH)
        first = (await post_comment(http, "a", body="one")).json()["comment"]
        reader = await SseReader.open(sse_url(server, "a", "?after=0"))
        assert (await reader.next())["type"] == "hello"
        assert (await reader.next())["comment"] == first
        assert reader.last_id == f"{first['id']}.0"
        second = (await post_comment(http, "a", body="two")).json()["comment"]
        assert (await reader.next_of("comment"))["comment"] == second
        await reader.close()
        third = (await post_comment(http, "a", body="three")).json()["comment"]
        back = await SseReader.open(sse_url(server, "a"), {"Last-Event-ID": f"{second['id']}.0"})
        assert (await back.next())["type"] == "hello"
        assert (await back.next())["comment"] == third
        await back.close()


class CollectingStream:
    """A real in-memory stream: records the chunks written to it."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ended = False

    def open(self) -> None:
        pass

    def write(self, chunks: bytes) -> int:
        self.chunks.append(chunks)
        return 0

    def end(self) -> None:
        self.ended = True


def test_readers_share_a_chunk_only_at_the_same_position() -> None:
    """Readers at one position get the very same chunk; a reader elsewhere gets its own id."""
    shared, stats = SharedChunk(), HubStats()
    streams = [CollectingStream() for _ in range(3)]
    starts = [Position(5, 2), Position(5, 2), Position(5, 7)]
    sinks = [
        DirectEvents(stream, Cursor(start), 1 << 20, stats, shared)
        for stream, start in zip(streams, starts, strict=True)
    ]
    for message in (Message.of(b'{"c":6}', 6), Message.of(b'{"e":1}', rev=3)):
        for sink in sinks:
            sink.send([message])
    assert streams[0].chunks[0] is streams[1].chunks[0]
    assert [stream.chunks for stream in streams[1:]] == [
        [chunk(b'data: {"c":6}\nid: 6.2\n\n'), chunk(b'data: {"e":1}\nid: 6.3\n\n')],
        [chunk(b'data: {"c":6}\nid: 6.7\n\n'), chunk(b'data: {"e":1}\nid: 6.7\n\n')],
    ]


async def test_vote_and_pin_events_reach_sse_readers_too(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """`vote` and `pin` go through the hub, so an SSE reader gets them as a WebSocket reader
    does; a pin moves the stream's id (it takes a change number), a vote does not."""
    comment = (await post_comment(client, article)).json()["comment"]["id"]
    ws = await Reader.open(f"{server.ws_url}/ws/articles/{article}")
    sse = await SseReader.open(sse_url(server, article))
    await ws.next(), await sse.next()
    ballot = {"voter": "v" * 20, "value": 1}
    assert (await client.post(f"/api/comments/{comment}/vote", json=ballot)).status_code == 200
    vote = await sse.next_of("vote")
    assert vote == await ws.next_of("vote")
    assert (vote["id"], vote["score"]) == (comment, 1)
    assert sse.last_id == f"{comment}.0"
    await client.post(f"/api/admin/comments/{comment}/pin", headers=AUTH)
    pin = await sse.next_of("pin")
    assert pin == await ws.next_of("pin") and pin["pinned"] is True
    assert sse.last_id == f"{comment}.{pin['rev']}"
    await ws.close()
    await sse.close()
