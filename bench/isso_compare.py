"""Against a peer people self-host: Isso under gunicorn (4 workers) versus realtime.

Isso runs from its own virtualenv (bench/.isso-venv, made on first use with
`pip install isso gunicorn`), with its own SQLite file, moderation off and its rate limits
(`[guard]`) off. Both servers are seeded alike: a 200-comment thread, 50 pages with one comment
each. The same HTTP client (bench/rawhttp.py, 32 connections) then runs each workload for 30 s:
(a) posting comments to one thread, (b) reading the 200-comment thread, (c) the counts of the 50
pages in one request. Prints requests/s, latency and the ratios realtime / Isso, for each of
`--rounds` pairs (Isso, then realtime, each fresh). Targets (issues 4, 16): >= 5x on (a) and
(c), >= 20x on (b).

    python bench/isso_compare.py [--seconds 30] [--concurrency 32] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import msgspec
from _common import ADMIN, ROOT, Server, free_port, machine, save, today
from rawhttp import Connection

from realtime.loadtest.histogram import Histogram

VENV = ROOT / "bench" / ".isso-venv"
PAGES = 50
THREAD = 200
ISSO_CONFIG = """\
[general]
dbpath = {db}
host = http://127.0.0.1:{port}/
notify = stdout
[moderation]
enabled = false
[guard]
enabled = false
ratelimit = 1000000
direct-reply = 1000000
require-author = false
require-email = false
[server]
listen = http://127.0.0.1:{port}/
"""

# A workload: request number -> (method, target, body).
Request = Callable[[int], tuple[str, str, bytes]]


def ensure_isso() -> Path:
    gunicorn = VENV / "bin" / "gunicorn"
    if not gunicorn.exists():
        print(f"  making {VENV}: pip install isso gunicorn", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "--quiet", "isso", "gunicorn"]
        subprocess.run(pip, check=True)
    return gunicorn


class Isso(Server):
    @classmethod
    def start(cls, tmp: str, workers: int) -> Isso:
        port = free_port()
        config = Path(tmp) / "isso.cfg"
        config.write_text(ISSO_CONFIG.format(db=Path(tmp) / "isso.db", port=port))
        argv = [str(ensure_isso()), "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        argv += ["--preload", "isso.run"]
        env = {**os.environ, "ISSO_SETTINGS": str(config)}
        server = cls(argv, f"http://127.0.0.1:{port}", "", env)
        print(f"  $ ISSO_SETTINGS={config} {' '.join(argv)}", flush=True)
        return server

    def __enter__(self) -> Isso:
        assert self.proc is None
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_isso(self.url, self.proc)
        return self


def wait_isso(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"isso exited with status {proc.returncode}")
        try:
            httpx.get(f"{url}/?uri=/nothing", timeout=1, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("isso did not answer in 30 s")


# ---- the three workloads, per server --------------------------------------------------------


def isso_workloads() -> dict[str, Request]:
    uris = msgspec.json.encode([f"/page-{n}" for n in range(1, PAGES + 1)])

    def post(n: int) -> tuple[str, str, bytes]:
        body = {"text": f"Benchmark comment {n}.", "author": "Bench", "title": "Post thread"}
        return "POST", "/new?uri=/post-thread", msgspec.json.encode(body)

    return {
        "post": post,
        "read": lambda n: ("GET", "/?uri=/read-thread", b""),
        "counts": lambda n: ("POST", "/count", uris),
    }


def realtime_workloads() -> dict[str, Request]:
    slugs = ",".join(f"page-{n}" for n in range(1, PAGES + 1))

    def post(n: int) -> tuple[str, str, bytes]:
        body = {"author": "Bench", "body": f"Benchmark comment {n}."}
        return "POST", "/api/articles/post-thread/comments", msgspec.json.encode(body)

    return {
        "post": post,
        "read": lambda n: ("GET", f"/api/articles/read-thread/comments?limit={THREAD}", b""),
        "counts": lambda n: ("GET", f"/api/counts?articles={slugs}", b""),
    }


async def seed_isso(client: httpx.AsyncClient) -> None:
    async def new(uri: str, n: int) -> None:
        body = {"text": f"Seed comment {n}, long enough.", "author": "Seed", "title": uri}
        response = await client.post("/new", params={"uri": uri}, json=body)
        assert response.status_code == 201, response.text

    for n in range(THREAD):
        await new("/read-thread", n)
    for n in range(1, PAGES + 1):
        await new(f"/page-{n}", n)
    thread = (await client.get("/", params={"uri": "/read-thread"})).json()
    assert len(thread["replies"]) == THREAD, thread.get("total_replies")


async def seed_realtime(client: httpx.AsyncClient) -> None:
    auth = {"authorization": f"Bearer {ADMIN}"}
    slugs = ["post-thread", "read-thread", *(f"page-{n}" for n in range(1, PAGES + 1))]
    for slug in slugs:
        response = await client.put(f"/api/articles/{slug}", json={"title": slug}, headers=auth)
        assert response.status_code in (200, 201), response.text

    async def new(slug: str, n: int) -> None:
        body = {"author": "Seed", "body": f"Seed comment {n}, long enough."}
        response = await client.post(f"/api/articles/{slug}/comments", json=body)
        assert response.status_code == 201, response.text

    for n in range(THREAD):
        await new("read-thread", n)
    for n in range(1, PAGES + 1):
        await new(f"page-{n}", n)


# ---- the client -------------------------------------------------------------------------------


async def hammer(url: str, request: Request, seconds: float, concurrency: int) -> dict[str, Any]:
    """`concurrency` loops, each on its own connection, sending `request` back to back."""
    statuses: dict[str, int] = {}
    latency = Histogram()
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        connection = Connection(url)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status, _ = await connection.request(*request(next(counter)))
                key = str(status)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                key = type(exc).__name__
                connection.close()
            latency.record_seconds(time.perf_counter() - started)
            statuses[key] = statuses.get(key, 0) + 1
        connection.close()

    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    ok = sum(n for key, n in statuses.items() if key.startswith("2"))
    return {
        "requests": latency.count,
        "ok": ok,
        "per_second": round(ok / wall, 1),
        "p50_ms": latency.percentile(0.5) / 1000,
        "p99_ms": latency.percentile(0.99) / 1000,
        "statuses": statuses,
        "client_cpu": round(cpu / wall, 2),
    }


async def measure(
    url: str, seed: Callable[[httpx.AsyncClient], Awaitable[None]], workloads: dict[str, Request],
    args: argparse.Namespace,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    # Isso sets a cookie per new comment; a client that keeps them all soon overflows gunicorn's
    # header limit. Neither server needs cookies here, so none are kept.
    async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as client:
        client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        await seed(client)
    results = {}
    for name, request in workloads.items():
        results[name] = r = await hammer(url, request, args.seconds, args.concurrency)
        print(f"    {name:6} {r['per_second']:>9,.1f} req/s  p50 {r['p50_ms']:.1f} ms  "
              f"p99 {r['p99_ms']:.1f} ms  {r['statuses']}  client CPU {r['client_cpu']:.0%}",
              flush=True)  # fmt: skip
    return results


TARGETS = {"post": 5, "read": 20, "counts": 5}
LABELS = {"post": "(a) post to one thread", "read": "(b) read a 200-comment thread",
          "counts": "(c) counts of 50 pages"}  # fmt: skip


def one_round(args: argparse.Namespace) -> dict[str, Any]:
    """Isso, then realtime, each fresh and seeded alike; their figures and the ratios."""
    with tempfile.TemporaryDirectory(prefix="bench-isso-") as tmp:
        print("Isso:", flush=True)
        with Isso.start(tmp, args.workers) as isso:
            theirs = asyncio.run(measure(isso.url, seed_isso, isso_workloads(), args))
        print(f"realtime: ({machine()})", flush=True)
        with Server.realtime(tmp) as server:
            print(f"  $ {' '.join(server.argv)}  (REALTIME_RATE_LIMIT=off)")
            mine = asyncio.run(measure(server.url, seed_realtime, realtime_workloads(), args))
    ratios = {}
    for name in LABELS:
        a, b = theirs[name]["per_second"], mine[name]["per_second"]
        ratios[name] = b / a if a else 0.0
    print("  ratios: " + ", ".join(f"{name} {r:.1f}x" for name, r in ratios.items()), flush=True)
    return {"isso": theirs, "realtime": mine, "ratios": ratios}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="Isso's gunicorn workers")
    parser.add_argument("--rounds", type=int, default=1, help="Isso/realtime pairs")
    args = parser.parse_args()
    print(f"bench/isso_compare.py on {machine()}, {today()}")
    rounds = []
    for round_ in range(1, args.rounds + 1):
        print(f"round {round_}:", flush=True)
        rounds.append(one_round(args))
    print()
    print("| workload | round | Isso req/s | realtime req/s | ratio | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, label in LABELS.items():
        for n, result in enumerate(rounds, 1):
            a, b = result["isso"][name]["per_second"], result["realtime"][name]["per_second"]
            print(f"| {label} | {n} | {a:,.1f} | {b:,.1f} | {result['ratios'][name]:.1f}x | "
                  f">= {TARGETS[name]}x |")  # fmt: skip
    save("isso_compare", rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
