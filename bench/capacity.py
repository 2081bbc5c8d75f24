"""Memory per idle reader against the bare `websockets` baseline, and one comment to many readers.

1. Memory (`--memory-readers`, default 5,000; `--rounds` pairs, alternating): each server, fresh,
   notes its resident memory (VmRSS), a child process (`bench/hold_readers.py`) holds that many
   idle lean readers on one article, and after `--settle` seconds the memory is noted again; the
   difference per reader, and the ratio realtime / baseline. Target (issue 16): <= 1.0x.
2. Capacity (`--readers`, default 50,000 on one `realtime serve` process): the load tester
   connects them (lean readers, `--procs` processes), the server settles, one comment is posted,
   and its arrival at every reader is timed from its POST: first, p50 and last. Target: last
   <= 1 s. The file limit is raised as far as the machine lets a process: where the hard limit
   is lower than the readers need, the run is capped to fit and says so.
   With `--profile FILE`, py-spy samples the server from just before the comment to the end.

    python bench/capacity.py [--memory-readers 5000] [--rounds 2] [--readers 50000] [--procs 4]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import (
    ADMIN,
    ROOT,
    Server,
    StallWatch,
    figures,
    loadtest_args,
    machine,
    py_spy,
    reader_cpu,
    run_loadtest,
    save,
    stall_summary,
    stop_py_spy,
    today,
)
from profile_summary import summarize

FD_MARGIN = 300  # descriptors a server keeps for itself (database, listening socket, logs)


def idle_memory(kind: str, readers: int, settle: float) -> dict[str, Any]:
    """One server, `readers` idle lean readers held by a child process: RSS before and after."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        server = Server.realtime(tmp) if kind == "realtime" else Server.baseline()
        with server:
            auth = {"authorization": f"Bearer {ADMIN}"}
            httpx.put(f"{server.url}/api/articles/held", json={"title": "Held"}, headers=auth,
                      trust_env=False).raise_for_status()  # fmt: skip
            time.sleep(settle)
            before = server.rss_kib()
            script = str(ROOT / "bench" / "hold_readers.py")
            url = f"{server.ws_url}/ws/articles/held"
            command = [sys.executable, script, url, str(readers)]
            pipe = subprocess.PIPE
            child = subprocess.Popen(command, text=True, stdin=pipe, stdout=pipe)
            assert child.stdout is not None and child.stdin is not None
            connected, failed = (int(word) for word in child.stdout.readline().split())
            time.sleep(settle)
            after = server.rss_kib()
            child.stdin.close()
            child.wait(timeout=60)
    per = (after - before) / max(connected, 1)
    print(f"  {kind:8} {connected:,} readers ({failed} failed): RSS {before:,} -> {after:,} KiB "
          f"= {per:.1f} KiB per reader; {machine()}", flush=True)  # fmt: skip
    return {"kind": kind, "readers": connected, "failed": failed, "before": before,
            "after": after, "per_reader_kib": per}  # fmt: skip


def file_limit(wanted: int) -> int:
    """Raise this process's soft limit (children inherit it) as far as allowed; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (max(wanted, soft), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(target, hard)))
            return target
        except (ValueError, OSError):
            continue
    return soft


def capacity(args: argparse.Namespace) -> dict[str, Any]:
    limit = file_limit(args.readers + FD_MARGIN)
    readers = min(args.readers, limit - FD_MARGIN)
    if readers < args.readers:
        print(f"  the file limit here is {limit:,} descriptors per process (the hard limit; "
              f"raising it needs CAP_SYS_RESOURCE): {readers:,} readers, "
              f"not {args.readers:,}")  # fmt: skip
    procs = max(args.procs, math.ceil(readers / (limit - FD_MARGIN)))
    memory: dict[str, int] = {}
    profiler: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        server = Server.realtime(tmp)
        server.env["REALTIME_MAX_READERS"] = str(readers + 10)
        with server:
            memory["before"] = server.rss_kib()
            stalls = StallWatch(server)

            async def idle() -> None:
                await asyncio.sleep(args.settle)
                memory["connected"] = server.rss_kib()
                await stalls.start()
                if args.profile:
                    profiler.append(py_spy(server.pid, args.profile))
                    await asyncio.sleep(1)

            argv = loadtest_args(
                server,
                "--readers", str(readers), "--posters", "1", "--rate", "0", "--comments", "1",
                "--procs", str(procs), "--connect-timeout", "120", "--drain-timeout", "60",
                "--ws-client", "lean", "--connect-concurrency", "200",
            )  # fmt: skip
            report = run_loadtest(argv, after_connect=idle, after_posting=stalls_after(stalls))
            memory["after"] = server.rss_kib()
            for proc in profiler:
                stop_py_spy(proc)
    return {"report": report, "memory": memory, "stalls": stalls.figures, "asked": args.readers}


def stalls_after(stalls: StallWatch) -> Any:
    async def stop() -> None:
        await asyncio.sleep(2)
        await stalls.stop()

    return stop


def print_capacity(result: dict[str, Any]) -> None:
    report, memory = result["report"], result["memory"]
    connected = report.readers.connected
    per_reader = (memory["connected"] - memory["before"]) / max(connected, 1)
    lat = report.deliveries.latency_ms
    first = report.latency_histogram.min / 1000
    print(f"  {figures(report)}")
    print(f"  server RSS: {memory['before']:,} KiB idle, {memory['connected']:,} KiB with "
          f"{connected:,} readers = {per_reader:.1f} KiB per reader")  # fmt: skip
    print(f"  connect time: p50 {report.readers.connect_ms.p50:.1f} ms, "
          f"p99 {report.readers.connect_ms.p99:.1f} ms; {reader_cpu(report)}")  # fmt: skip
    print(f"  one comment to all {connected:,} readers, from its POST: first {first:.1f} ms, "
          f"p50 {lat.p50:.1f} ms, last {lat.max:.1f} ms (target: last <= 1,000 ms)")  # fmt: skip
    print(f"  POST latency {report.posts.latency_ms.p50:.1f} ms; {stall_summary(result['stalls'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-readers", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2, help="baseline/realtime memory pairs")
    parser.add_argument("--readers", type=int, default=50_000, help="0: skip the capacity run")
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before measuring")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the server during the comment")
    args = parser.parse_args()
    print(f"bench/capacity.py on {machine()}, {today()}")
    pairs = []
    for round_ in range(1, args.rounds + 1):
        print(f"memory per idle reader, round {round_}:", flush=True)
        base = idle_memory("baseline", args.memory_readers, args.settle)
        mine = idle_memory("realtime", args.memory_readers, args.settle)
        ratio = mine["per_reader_kib"] / base["per_reader_kib"]
        print(f"  -> realtime / baseline: {ratio:.2f}x (target <= 1.0x)", flush=True)
        pairs.append({"baseline": base, "realtime": mine, "ratio": ratio})
    result: dict[str, Any] = {"memory": pairs}
    if args.readers:
        print(f"capacity: {args.readers:,} readers on one process:", flush=True)
        capacity_run = capacity(args)
        print_capacity(capacity_run)
        result["capacity"] = capacity_run
        if args.profile:
            print(summarize(Path(args.profile)))
    save("capacity", result)
    return 0 if "capacity" not in result or result["capacity"]["report"].passed else 1


if __name__ == "__main__":
    sys.exit(main())
