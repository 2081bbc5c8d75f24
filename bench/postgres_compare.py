"""PostgreSQL against SQLite (issue 9), same client, same machine, one run each.

1. One process: posts/s to one thread, reads/s of a 200-comment thread, counts/s of 50 pages,
   on SQLite and on PostgreSQL (the client of isso_compare.py: 32 connections, back to back).
   Prints PostgreSQL / SQLite for each.
2. Posting against Isso (gunicorn, 4 workers; bench/.isso-venv as isso_compare.py makes it):
   PostgreSQL posts/s / Isso posts/s (target >= 3x).
3. The writer lock's cost: two stores (two processes' writers) on one database, each posting to
   its own article as fast as group commit allows, with the lock (what realtime does) and without
   it (per-article row locks only; ids would no longer follow commit order across articles).
4. Fan-out: `realtime serve --workers 2` on PostgreSQL, READERS readers on one article, comments
   at RATE/s, with the Redis hub and with the postgres hub (LISTEN/NOTIFY).

A throwaway PostgreSQL cluster (Debian's postgresql, fsync on) and a redis-server run on loopback.

    python bench/postgres_compare.py [--seconds 20] [--readers 2000] [--rate 50] [--duration 15]
                                     [--skip-isso] [--only one|isso|lock|fan-out]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from _common import ROOT, Server, free_port, machine, save, server_env, today
from isso_compare import Isso, isso_workloads, measure, realtime_workloads, seed_realtime
from scale_redis import load, redis_server

from realtime.models import ArticleIn
from realtime.store import NewComment, Store
from realtime.store.postgres import PostgresBackend

sys.path.insert(0, str(ROOT))
from tests.pg import PostgresServer, pg_bin  # noqa: E402  (the tests' throwaway cluster)


def one_process(pg: PostgresServer, tmp: str, args: argparse.Namespace) -> dict[str, Any]:
    print("1. one process, SQLite then PostgreSQL", flush=True)
    results: dict[str, Any] = {}
    for name, db in (("sqlite", str(Path(tmp) / "one.db")), ("postgres", pg.fresh_url())):
        with realtime_on(db, "memory://") as server:
            print(f"  {name}: $ {' '.join(server.argv)}", flush=True)
            results[name] = asyncio.run(
                measure(server.url, seed_realtime, realtime_workloads(), args)
            )
    return results


def realtime_on(db: str, hub: str, *extra: str) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "realtime", "serve", "--port", str(port), "--db", db, *extra]
    env = {**server_env(), "REALTIME_HUB": hub}
    return Server(argv, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", env)


def against_isso(tmp: str, args: argparse.Namespace) -> dict[str, Any]:
    print("2. Isso, posting to one thread", flush=True)
    with Isso.start(tmp, 4) as isso:
        post = {"post": isso_workloads()["post"]}
        return asyncio.run(measure(isso.url, _no_seed, post, args))


async def _no_seed(client: Any) -> None:
    """Isso's posting workload makes its own thread."""


class _Unlocked(PostgresBackend):
    """The backend without the writer lock: BEGIN alone (for this measurement only)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._begin = "BEGIN ISOLATION LEVEL READ COMMITTED"


async def writer_lock(pg: PostgresServer, posts: int) -> dict[str, float]:
    print(f"3. the writer lock: two writers, {posts} posts each, to their own article")
    results = {}
    for name, locked in (("with the lock", True), ("without it", False)):
        url = pg.fresh_url()
        stores = [await _store(url, locked) for _ in range(2)]
        for n, store in enumerate(stores):
            await store.put_article(f"a{n}", ArticleIn(title="t"), "2026-11-30T00:00:00.000Z")
        started = time.perf_counter()
        await asyncio.gather(*(_post(store, f"a{n}", posts) for n, store in enumerate(stores)))
        results[name] = rate = 2 * posts / (time.perf_counter() - started)
        groups = sum(store.writer.stats.transactions for store in stores)
        print(f"    {name:14} {rate:>9,.1f} posts/s  ({groups} group commits)", flush=True)
        for store in stores:
            await store.close()
    return results


async def _store(url: str, locked: bool) -> Store:
    backend = await (PostgresBackend if locked else _Unlocked).open(url)
    store = Store(backend, 256)
    store.writer.start()
    return store


async def _post(store: Store, slug: str, posts: int) -> None:
    def new(n: int) -> NewComment:
        return NewComment(
            article=slug, parent=None, author="Bench", email=None, avatar="ab",
            body=f"n{n}", created="2026-11-30T00:00:00.000Z", token_hash=b"",
        )  # fmt: skip

    await asyncio.gather(*(store.add_comment(new(n)) for n in range(posts)))


def fan_out(pg: PostgresServer, tmp: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"4. fan-out: serve --workers 2 on PostgreSQL, {args.readers:,} readers, "
          f"{args.rate:g} comments/s", flush=True)  # fmt: skip
    reports = {}
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(tmp))
        for name, hub in (("Redis hub", redis_url), ("postgres hub", "postgres")):
            with realtime_on(pg.fresh_url(), hub, "--workers", "2") as server:
                print(f"  {name}: $ REALTIME_HUB={hub} {' '.join(server.argv)}", flush=True)
                reports[name] = load(server, args.readers, args.rate, args)
    return reports


def summary(results: dict[str, Any]) -> None:
    print("\nsummary")
    one = results.get("one")
    if one:
        print("| one process | SQLite req/s | PostgreSQL req/s | PostgreSQL / SQLite |")
        print("| --- | --- | --- | --- |")
        for name in ("post", "read", "counts"):
            a, b = one["sqlite"][name]["per_second"], one["postgres"][name]["per_second"]
            print(f"| {name} | {a:,.1f} | {b:,.1f} | {b / a:.2f}x |")
    isso = results.get("isso")
    if isso and one:
        theirs, mine = isso["post"]["per_second"], one["postgres"]["post"]["per_second"]
        print(f"posting: PostgreSQL {mine:,.1f}/s, Isso {theirs:,.1f}/s: {mine / theirs:.1f}x"
              " (target >= 3x)")  # fmt: skip
    lock = results.get("lock")
    if lock:
        ratio = lock["with the lock"] / lock["without it"]
        print(f"writer lock: {ratio:.2f}x the posts/s of two writers without it")
    fan = results.get("fan")
    if fan:
        for name, report in fan.items():
            lat = report.deliveries.latency_ms
            print(f"fan-out, {name}: {report.deliveries.per_second:,.0f} deliveries/s, "
                  f"p50 {lat.p50:.1f} ms, p99 {lat.p99:.1f} ms")  # fmt: skip
        redis, notify = fan["Redis hub"].deliveries, fan["postgres hub"].deliveries
        print(f"  postgres hub / Redis hub: {notify.per_second / redis.per_second:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--lock-posts", type=int, default=3000)
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--procs", type=int, default=2, help="load-tester reader processes")
    parser.add_argument("--skip-isso", action="store_true")
    parser.add_argument("--only", choices=["one", "isso", "lock", "fan-out"])
    args = parser.parse_args()
    bindir = pg_bin()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (scripts/system-deps.sh installs it)")
    print(f"bench/postgres_compare.py on {machine()}, {today()}", flush=True)
    pg = PostgresServer(bindir).init()
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
            if args.only in (None, "one"):
                results["one"] = one_process(pg, tmp, args)
            if args.only in (None, "isso") and not args.skip_isso:
                results["isso"] = against_isso(tmp, args)
            if args.only in (None, "lock"):
                results["lock"] = asyncio.run(writer_lock(pg, args.lock_posts))
            if args.only in (None, "fan-out"):
                results["fan"] = fan_out(pg, tmp, args)
    finally:
        pg.remove()
    summary(results)
    print(f"  raw figures: {save('postgres_compare', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
