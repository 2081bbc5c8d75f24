"""Posting never waits for a notification: POST latency with an SMTP server that hangs, against
the same server with no e-mail at all (the baseline, run first in this script).

Every post asks for reply notifications from a new address, so every post writes a confirmation
mail to the outbox; with the hanging SMTP server each attempt holds a connection until
`notify_timeout_seconds`, and the sender keeps all of its `notify_concurrency` slots busy for the
whole run. Also a webhook receiver that hangs, in the second run. Prints p50/p95/p99 of both runs
and their ratio (hanging / none).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import ADMIN, Server, machine, today

SLUG = "notify-bench"


class Silent:
    """TCP servers that accept and never answer: an SMTP server and a webhook receiver that hang."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


async def post_all(url: str, posts: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        put = await http.put(
            f"/api/articles/{SLUG}",
            json={"title": "Bench"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert put.status_code in (200, 201), put.text

        async def poster(worker: int) -> None:
            for n in range(worker, posts, concurrency):
                body = {
                    "author": "B",
                    "body": f"post {n}",
                    "email": f"r{n}@example.org",
                    "notify": True,
                }
                started = time.perf_counter()
                response = await http.post(f"/api/articles/{SLUG}/comments", json=body)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text

        await asyncio.gather(*(poster(w) for w in range(concurrency)))
    return latencies


def run(env: dict[str, str], config: str | None, posts: int, concurrency: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server.realtime(tmp)
        server.env = {**server.env, **env}
        if config:
            server.argv[3:3] = ["--config", config]
        with server:
            asyncio.run(post_all(server.url, 20, concurrency))  # warm-up
            return asyncio.run(post_all(server.url, posts, concurrency))


def summary(latencies: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(f"{today()} · {machine()} · load {os.getloadavg()[0]:.1f}")
    print(f"python bench/notify_latency.py --posts {args.posts} --concurrency {args.concurrency}")
    baseline = run({}, None, args.posts, args.concurrency)
    silent_smtp, silent_hook = Silent(), Silent()
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
            config.write(
                f'[[webhooks]]\nurl = "http://127.0.0.1:{silent_hook.port}/hook"\n'
                'secret = "bench-secret-0123456789"\nevents = ["comment.published"]\n'
            )
        env = {
            "REALTIME_SMTP_HOST": "127.0.0.1",
            "REALTIME_SMTP_PORT": str(silent_smtp.port),
            "REALTIME_MAIL_FROM": "bench@example.org",
            "REALTIME_PUBLIC_URL": "https://comments.example",
            "REALTIME_NOTIFY_TIMEOUT_SECONDS": "5",
        }
        hanging = run(env, config.name, args.posts, args.concurrency)
    finally:
        silent_smtp.close()
        silent_hook.close()
        Path(config.name).unlink(missing_ok=True)
    rows = [("no e-mail, no webhooks (baseline)", baseline), ("SMTP + webhook that hang", hanging)]
    print(f"{'run':36} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, latencies in rows:
        p50, p95, p99 = summary(latencies)
        print(f"{name:36} {p50:8.2f} {p95:8.2f} {p99:8.2f}")
    ratios = [h / b for h, b in zip(summary(hanging), summary(baseline), strict=True)]
    print("ratio hanging/baseline: " + " ".join(f"{r:.2f}x" for r in ratios) + " (p50 p95 p99)")


if __name__ == "__main__":
    main()
