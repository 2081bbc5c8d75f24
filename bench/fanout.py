"""Fan-out benchmark (issue 2): 1,000 readers on one article, 200 comments at 50/s.

Starts `realtime serve` on a free loopback port with a fresh database, attaches the readers with
the load tester, posts, and prints deliveries/s and the latency from POST to delivery. With
`--profile FILE`, py-spy samples the server while the comments are posted (needs `py-spy` in the
venv and ptrace rights) and the hottest functions are printed.

    python bench/fanout.py [--readers 1000] [--comments 200] [--rate 50] [--procs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import (
    CpuMeter,
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
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--posters", type=int, default=10)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--profile", metavar="FILE", help="py-spy raw (collapsed) stacks here")
    args = parser.parse_args()
    print(f"bench/fanout.py on {machine()}, {today()}")
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp, Server.realtime(tmp) as server:
        argv = loadtest_args(
            server,
            "--readers", str(args.readers), "--posters", str(args.posters),
            "--rate", str(args.rate), "--comments", str(args.comments),
            "--duration", "600", "--procs", str(args.procs),
        )  # fmt: skip
        profiler: list[subprocess.Popen[bytes]] = []
        meter = CpuMeter(server.pid)

        async def start_profiler() -> None:
            await meter.start()
            if args.profile:
                profiler.append(py_spy(server.pid, args.profile))
                await asyncio.sleep(1)  # let it attach before the first post

        report = run_loadtest(argv, after_connect=start_profiler)
        meter.stop()
        for proc in profiler:
            stop_py_spy(proc)
    print(f"  {figures(report)}")
    lat = report.deliveries.latency_ms
    print(f"  deliveries/s: {report.deliveries.per_second:,.0f}")
    print(f"  POST to delivery: p50 {lat.p50:.1f} ms, p99 {lat.p99:.1f} ms, max {lat.max:.1f} ms")
    cpu = meter.per_delivery_us(report.deliveries.total)
    print(f"  server CPU: {meter.used:.2f} s, {cpu:.1f} µs per delivery")
    print(f"  raw report: {save('fanout', report)}")
    if args.profile:
        print(summarize(Path(args.profile)))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
