"""What the database-file guard costs a group commit (issue 15).

The writer stats the database file and its -wal after each COMMIT, before acknowledging the group
(`realtime.store.file_guard`). This script times sequential posts through the
real store, each its own group commit, with the guard and without it (the baseline, in the same
run, rounds alternated), and prints the ratio. Also the cost of one `check()` on its own.

    python bench/file_guard.py [--posts 400] [--rounds 5] [--dir DIR]

`--dir` picks the filesystem (default: a temporary directory); on tmpfs an fsync costs almost
nothing, so the guard's share of a commit is as large as it gets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import timeit
from pathlib import Path

from realtime.models import ArticleIn
from realtime.store import NewComment, Store
from realtime.store.file_guard import FileGuard
from realtime.store.sqlite import SqliteBackend

SLUG = "bench"


def sqlite(store: Store) -> SqliteBackend:
    assert isinstance(store.backend, SqliteBackend)
    return store.backend


def comment(n: int) -> NewComment:
    return NewComment(
        article=SLUG,
        parent=None,
        author="Bench",
        email=None,
        avatar="0" * 32,
        body=f"comment {n}",
        created="2026-11-30T00:00:00.000Z",
        token_hash=b"\x00" * 32,
    )


async def per_commit(directory: Path, posts: int, guarded: bool) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per sequential post, each its own group commit."""
    path = Path(tempfile.mkdtemp(dir=directory)) / "db.sqlite"
    store = await Store.open(path)
    if not guarded:
        sqlite(store).file_guard = FileGuard({})  # watches nothing
    try:
        await store.put_article(SLUG, ArticleIn(title="Bench"), "2026-11-30T00:00:00.000Z")
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(posts):
            await store.add_comment(comment(n))
        return (time.perf_counter() - wall) / posts, (time.process_time() - cpu) / posts
    finally:
        await store.close()


async def check_seconds(directory: Path) -> float:
    path = Path(tempfile.mkdtemp(dir=directory)) / "db.sqlite"
    store = await Store.open(path)
    try:
        calls = 50_000  # CPU time, which the machine's other load disturbs far less than wall
        timer = timeit.Timer(sqlite(store).check, timer=time.process_time)
        return min(timer.repeat(repeat=5, number=calls)) / calls
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}; directory: {args.dir}")
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for round_ in range(args.rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)  # no side always goes first
        for guarded in order:
            runs[guarded].append(await per_commit(args.dir, args.posts, guarded))
    check = await check_seconds(args.dir) * 1e6
    print(f"one check(): {check:.2f} µs of CPU (one per group commit)")
    print(f"per commit, median of {args.rounds} rounds of {args.posts} sequential posts:")
    for index, name in ((0, "wall"), (1, "CPU")):
        baseline, guarded = (statistics.median(r[index] for r in runs[f]) * 1e6 for f in (0, 1))
        print(
            f"  {name:4}: baseline (no guard) {baseline:8.1f} µs, guarded {guarded:8.1f} µs,"
            f" ratio {guarded / baseline:.3f}x; one check = {check / baseline:.2%} of a commit"
        )


if __name__ == "__main__":
    asyncio.run(main())
