"""Capacity: 10,000 idle readers on one server process; memory per reader, one comment to all.

Starts `realtime serve`, notes its resident memory (VmRSS), connects the readers with the load
tester, waits for the server to settle, notes the memory again, then posts one comment and
measures the time from its POST until the last reader has it. Target (issue 4): <= 20 KiB/reader.
With `--profile FILE`, py-spy samples the server from just before the comment to the end.

    python bench/capacity.py [--readers 10000] [--procs 2] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import (
    Server,
    figures,
    loadtest_args,
    machine,
    py_spy,
    run_loadtest,
    save,
    stop_py_spy,
    today,
)
from profile_summary import summarize


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before measuring")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the server during the comment")
    args = parser.parse_args()
    print(f"bench/capacity.py on {machine()}, {today()}")
    memory: dict[str, int] = {}
    profiler: list[subprocess.Popen[bytes]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp,
        Server.realtime(tmp) as server,
    ):
        memory["before"] = server.rss_kib()

        async def idle() -> None:
            await asyncio.sleep(args.settle)
            memory["connected"] = server.rss_kib()
            if args.profile:
                profiler.append(py_spy(server.pid, args.profile))
                await asyncio.sleep(1)

        argv = loadtest_args(
            server,
            "--readers", str(args.readers), "--posters", "1", "--rate", "0",
            "--comments", "1", "--procs", str(args.procs), "--connect-timeout", "60",
            "--drain-timeout", "60",
        )  # fmt: skip
        report = run_loadtest(argv, after_connect=idle)
        memory["after"] = server.rss_kib()
        for proc in profiler:
            stop_py_spy(proc)
    connected = report.readers.connected
    per_reader = (memory["connected"] - memory["before"]) / max(connected, 1)
    lat = report.deliveries.latency_ms
    print(f"  {figures(report)}")
    print(f"  server RSS: {memory['before']:,} KiB idle, {memory['connected']:,} KiB with "
          f"{connected:,} readers, {memory['after']:,} KiB after the comment")  # fmt: skip
    print(f"  memory per reader: {per_reader:.1f} KiB (target <= 20 KiB)")
    print(f"  connect time: p50 {report.readers.connect_ms.p50:.1f} ms, "
          f"p99 {report.readers.connect_ms.p99:.1f} ms")  # fmt: skip
    first = report.latency_histogram.min / 1000
    print(f"  one comment to all {connected:,} readers: first {first:.1f} ms, "
          f"p50 {lat.p50:.1f} ms, last {lat.max:.1f} ms")  # fmt: skip
    save("capacity", {"memory_kib": memory, "per_reader_kib": per_reader, "report": report})
    if args.profile:
        print(summarize(Path(args.profile)))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
