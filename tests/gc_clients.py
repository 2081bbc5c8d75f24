"""Clients for tests/test_gc_freeze.py, run in a process of their own so that the garbage the
clients make (httpx and websockets keep reference cycles) is not counted as the server's.

    python -m tests.gc_clients BASE_URL WS_URL ROUNDS
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import websockets

ADMIN = "test-admin-token"


async def http_round(http: httpx.AsyncClient, n: int) -> None:
    await http.post("/api/articles/a/comments", json={"author": "x", "body": f"comment {n}"})
    await http.post("/api/articles/a/comments", json={"author": "", "body": "422"})
    await http.post(
        "/api/articles/a/comments",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    await http.get("/api/articles/a/comments?limit=200")
    await http.get("/api/counts?articles=a,b")
    await http.get("/api/articles/missing")
    await http.get("/articles/a")
    await http.get("/healthz")
    await thread_features_round(http, n)


async def thread_features_round(http: httpx.AsyncClient, n: int) -> None:
    """Votes, pins, sorted pages, the preview, recent comments and feeds (issue 10)."""
    auth = {"Authorization": f"Bearer {ADMIN}"}
    posted = await http.post("/api/articles/a/comments", json={"author": "y", "body": f"*{n}*"})
    comment = posted.json()["comment"]["id"]
    await http.post(f"/api/comments/{comment}/vote", json={"voter": f"voter-{n:012d}", "value": 1})
    await http.post("/api/comments/999999/vote", json={"voter": "v" * 16, "value": 1})  # 404
    await http.delete("/api/comments/999999", headers=auth)  # a write that fails: 404
    await http.post("/api/articles/missing/comments", json={"author": "z", "body": "404"})
    await http.post(f"/api/admin/comments/{comment}/pin", headers=auth)
    await http.post(f"/api/admin/comments/{comment}/unpin", headers=auth)
    await http.get("/api/articles/a/comments?sort=top&limit=2")
    await http.get("/api/articles/a/comments?sort=newest&cursor=forged")  # 404
    await http.post("/api/preview", json={"body": "**b** <script>x</script> https://e.org"})
    await http.get("/api/comments/recent?limit=5")
    etag = (await http.get("/feeds/articles/a.atom")).headers["etag"]
    await http.get("/feeds/articles/a.atom", headers={"If-None-Match": etag})  # 304
    await http.get("/feeds/articles/missing.atom")  # 404
    await http.get("/feeds/comments.atom")
    await http.get("/articles/a?sort=top")


async def reader_round(base: str, ws: str, n: int) -> None:
    thread = await websockets.connect(f"{ws}/ws/articles/a?after={n}")
    await thread.recv()
    await thread.send('{"type":"ping"}')
    await thread.recv()
    await thread.close()
    bad = await websockets.connect(f"{ws}/ws/articles/a")
    await bad.recv()
    await bad.send("not a ping")
    await bad.wait_closed()
    counts = await websockets.connect(f"{ws}/ws/counts?articles=a,b")
    await counts.recv()
    await counts.close()
    admin = await websockets.connect(f"{ws}/ws/admin")
    await admin.send(json.dumps({"type": "auth", "token": ADMIN}))
    await admin.recv()
    await admin.close()
    port = int(base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /sse/articles/a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    await reader.read(1000)
    writer.close()
    await writer.wait_closed()


async def main(base: str, ws: str, rounds: int) -> None:
    # Readers that get the fan-out but never recv(): an unbounded queue, or websockets stops
    # reading at 16 messages and their close waits out close_timeout behind the unread frames.
    held = [await websockets.connect(f"{ws}/ws/articles/a", max_queue=None) for _ in range(5)]
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for n in range(rounds):
            await http_round(http, n)
            await reader_round(base, ws, n)
    for connection in held:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    print("done", flush=True)
