"""Scale-out on Redis (issue 6): one process versus two processes with Redis, same load tester.

1. Fan-out: READERS readers on one article, comments at RATE/s for DURATION s, against
   (a) one `realtime serve` (in-process hub) and (b) `realtime serve --workers 2` with a Redis hub
   (the kernel spreads the readers over the two workers). Prints deliveries/s, latency from POST to
   delivery (p50/p99) and the scaling factor b / a.
2. The Redis hop: two processes on two ports with one Redis and one database, HOP_READERS readers.
   Posts go to process A; the readers are on A (delivered in process) or on B (through Redis). The
   difference of the latencies (p50/p99) is what the hop adds.

Everything runs on 127.0.0.1: a redis-server on a free port, the servers, the load tester.

    python bench/scale_redis.py [--readers 10000] [--rate 100] [--duration 20] [--procs 2]
                                [--hop-readers 1000] [--hop-rate 50] [--only fan-out|hop]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from _common import (
    Server,
    figures,
    free_port,
    loadtest_args,
    machine,
    run_loadtest,
    save,
    server_env,
    today,
)

from realtime.loadtest import Report


@contextmanager
def redis_server(workdir: str) -> Iterator[str]:
    """A redis-server on a free loopback port (`--port 0` would turn TCP off); yields its URL."""
    port = free_port()
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    argv = [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*argv, "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not _pong(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def realtime(db: Path, hub: str, *extra: str, port: int | None = None) -> Server:
    port = port or free_port()
    argv = [sys.executable, "-m", "realtime", "serve", "--port", str(port), "--db", str(db)]
    env = server_env()
    env["REALTIME_HUB"] = hub
    url = f"http://127.0.0.1:{port}"
    return Server([*argv, *extra], url, f"ws://127.0.0.1:{port}", env)


def load(server: Server, readers: int, rate: float, args: argparse.Namespace, **kw: Any) -> Report:
    argv = loadtest_args(
        server,
        "--readers", str(readers), "--posters", "10", "--rate", f"{rate:g}",
        "--duration", str(args.duration), "--procs", str(args.procs),
        "--connect-timeout", "60", "--drain-timeout", "30",
    )  # fmt: skip
    if "ws_url" in kw:  # readers on another process than the one that takes the posts
        at = argv.index("--ws-url")
        argv[at + 1] = kw["ws_url"]
    report = run_loadtest(argv)
    print(f"    {figures(report)}", flush=True)
    return report


def fan_out(args: argparse.Namespace) -> dict[str, Report]:
    reports: dict[str, Report] = {}
    print(f"1. {args.readers:,} readers on one article, {args.rate:g} comments/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        print("  one process, in-process hub", flush=True)
        with realtime(Path(tmp) / "one.db", "memory://") as server:
            reports["one process"] = load(server, args.readers, args.rate, args)
        print("  serve --workers 2, Redis hub", flush=True)
        with redis_server(tmp) as url, realtime(Path(tmp) / "two.db", url, "--workers", "2") as s:
            reports["two processes + Redis"] = load(s, args.readers, args.rate, args)
    return reports


def redis_hop(args: argparse.Namespace) -> dict[str, Report]:
    reports: dict[str, Report] = {}
    print(f"2. the Redis hop: {args.hop_readers:,} readers, {args.hop_rate:g} comments/s")
    with tempfile.TemporaryDirectory(prefix="bench-hop-") as tmp, ExitStack() as stack:
        url = stack.enter_context(redis_server(tmp))
        db = Path(tmp) / "hop.db"
        a = stack.enter_context(realtime(db, url))
        b = stack.enter_context(realtime(db, url))
        print("  posts to A, readers on A (in process)", flush=True)
        reports["same process"] = load(a, args.hop_readers, args.hop_rate, args)
        print("  posts to A, readers on B (through Redis)", flush=True)
        reports["through Redis"] = load(a, args.hop_readers, args.hop_rate, args, ws_url=b.ws_url)
    return reports


def summary(fan: dict[str, Report], hop: dict[str, Report]) -> None:
    print("\nsummary")
    for name, report in [*fan.items(), *hop.items()]:
        lat, verdict = report.deliveries.latency_ms, "ok" if report.passed else "FAIL"
        print(
            f"  {name:24} {report.deliveries.per_second:>10,.0f} deliveries/s"
            f"   p50 {lat.p50:8.1f} ms   p99 {lat.p99:8.1f} ms   {verdict}"
        )
    if fan:
        one, two = fan["one process"].deliveries, fan["two processes + Redis"].deliveries
        print(f"  scaling factor (deliveries/s, two / one): {two.per_second / one.per_second:.2f}x")
    if not hop:
        return
    near = hop["same process"].deliveries.latency_ms
    far = hop["through Redis"].deliveries.latency_ms
    print(
        f"  Redis hop adds: p50 {far.p50 - near.p50:+.1f} ms, p99 {far.p99 - near.p99:+.1f} ms"
        f" (same process p50 {near.p50:.1f} / p99 {near.p99:.1f};"
        f" through Redis p50 {far.p50:.1f} / p99 {far.p99:.1f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--procs", type=int, default=2, help="load-tester reader processes")
    parser.add_argument("--hop-readers", type=int, default=1000)
    parser.add_argument("--hop-rate", type=float, default=50)
    parser.add_argument("--only", choices=["fan-out", "hop"], help="run one of the two parts")
    args = parser.parse_args()
    print(f"bench/scale_redis.py on {machine()}, {today()}", flush=True)
    fan = fan_out(args) if args.only != "hop" else {}
    hop = redis_hop(args) if args.only != "fan-out" else {}
    summary(fan, hop)
    print(f"  raw reports: {save('scale_redis', {'fan_out': fan, 'redis_hop': hop})}")
    return 0 if all(r.passed for r in [*fan.values(), *hop.values()]) else 1


if __name__ == "__main__":
    sys.exit(main())
