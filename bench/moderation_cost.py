"""What bans, word lists and secure_delete cost a post (issue 13).

Every post now looks up the bans in force for its network and e-mail (one indexed read), keeps a
keyed hash of its network (HMAC-SHA-256, two more columns, a partial index), and, with word
lists, folds and matches its words. Deletes overwrite what they free (`secure_delete = ON`).
This script times sequential posts through the real service and store, each its own group
commit: without the ban lookup ("unchecked", what a post cost before), with no lists and no bans
(the baseline), and with 200 hold words, 200 refuse words and 1,000 bans in force ("loaded"),
the order rotated per round in the same run, and prints the ratios to the baseline. Then
deletes with `secure_delete` on and off, and the matching alone (CPU per call).

    python bench/moderation_cost.py [--posts 300] [--rounds 4] [--dir DIR]
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

from realtime.config import load_settings
from realtime.live.hub import Hub
from realtime.models import ArticleIn, BanIn, CommentIn
from realtime.moderators import OWNER_ACTOR
from realtime.moderators.words import WordList
from realtime.service import CommentService
from realtime.store import Store
from realtime.store.sqlite import SqliteBackend

SLUG = "bench"
BODY = "A perfectly ordinary comment about the harbour bridge, with a few words in it. " * 6
WORDS = [f"word{n}" for n in range(200)]


async def service_on(path: Path, loaded: bool) -> CommentService:
    settings = load_settings(
        environ={},
        db=str(path),
        rate_limit="off",
        hold_words=WORDS if loaded else [],
        refuse_words=[w.upper() + "x" for w in WORDS] if loaded else [],
    )
    store = await Store.open(path)
    service = CommentService(settings, store, Hub(settings.reader_backlog_bytes))
    await service.put_article(SLUG, ArticleIn(title="Bench"))
    if loaded:
        for n in range(1000):  # bans on other networks and e-mails: the lookup finds none
            address = f"10.{n // 250}.{n % 250}.7"
            posted = await service.post(SLUG, CommentIn(author="x", body=f"spam {n}"), address)
            await service.bans.ban(
                "comments", posted.comment.id, BanIn(reason="bench", on="network"), OWNER_ACTOR
            )
    return service


async def no_check(*_: object) -> None:
    """The ban lookup taken out: what a post cost before bans (the hashes are still made)."""


async def per_post(directory: Path, posts: int, variant: str) -> tuple[float, float]:
    """(wall, CPU) seconds per sequential post, each its own group commit."""
    path = Path(tempfile.mkdtemp(dir=directory)) / "db.sqlite"
    service = await service_on(path, variant == "loaded")
    if variant == "unchecked":
        service.bans.check = no_check  # type: ignore[method-assign]
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(posts):
            data = CommentIn(author="Kari", body=f"{n} {BODY}", email=f"kari{n}@example.no")
            await service.post(SLUG, data, "192.0.2.44")
        return (time.perf_counter() - wall) / posts, (time.process_time() - cpu) / posts
    finally:
        await service.store.close()


async def per_delete(directory: Path, deletes: int, secure: bool) -> float:
    """CPU seconds per delete (each its own group commit), secure_delete on or off."""
    path = Path(tempfile.mkdtemp(dir=directory)) / "db.sqlite"
    service = await service_on(path, False)
    store = service.store
    assert isinstance(store.backend, SqliteBackend)
    await store.writer.submit(lambda tx: tx.run(f"PRAGMA secure_delete = {int(secure)}"))
    try:
        ids = []
        for n in range(deletes):
            data = CommentIn(author="Kari", body=f"{n} {BODY}", email="kari@example.no")
            ids.append((await service.post(SLUG, data, "192.0.2.44")).comment.id)
        cpu = time.process_time()
        for comment_id in ids:
            await store.delete_comment(comment_id)
        return (time.process_time() - cpu) / deletes
    finally:
        await store.close()


def match_seconds() -> float:
    listed = WordList(WORDS)
    calls = 2000
    timer = timeit.Timer(lambda: listed.find(BODY), timer=time.process_time)
    return min(timer.repeat(repeat=5, number=calls)) / calls


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    variants = ("unchecked", "baseline", "loaded")
    runs: dict[str, list[tuple[float, float]]] = {variant: [] for variant in variants}
    for round_ in range(args.rounds):
        for variant in variants[round_ % 3 :] + variants[: round_ % 3]:  # rotate the order
            runs[variant].append(await per_post(args.dir, args.posts, variant))
    print(f"load average {os.getloadavg()[0]:.1f}; {args.posts} posts x {args.rounds} rounds")
    base_wall = statistics.median(w for w, _ in runs["baseline"])
    base_cpu = statistics.median(c for _, c in runs["baseline"])
    for variant in variants:
        wall = statistics.median(w for w, _ in runs[variant])
        cpu = statistics.median(c for _, c in runs[variant])
        print(
            f"post, {variant:9}  wall {wall * 1e6:7.0f} us ({wall / base_wall:.2f}x)"
            f"  CPU {cpu * 1e6:6.0f} us ({cpu / base_cpu:.2f}x)"
        )
    deletes: dict[bool, list[float]] = {}
    for secure in (False, True):
        deletes[secure] = [await per_delete(args.dir, args.posts, secure) for _ in range(2)]
    off, on = min(deletes[False]), min(deletes[True])
    print(
        f"delete CPU: secure_delete off {off * 1e6:.0f} us, on {on * 1e6:.0f} us: {on / off:.2f}x"
    )
    matching = match_seconds() * 1e6
    print(f"matching a {len(BODY)}-character body against 200 words: {matching:.0f} us CPU")


if __name__ == "__main__":
    asyncio.run(main())
