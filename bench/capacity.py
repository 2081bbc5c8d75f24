"""Capacity: 10,000 idle readers on one server process; memory per reader, one comment to all.

Starts `realtime serve`, notes its resident memory (VmRSS), connects the readers with the load
tester, waits for the server to settle, notes the memory again, then posts one comment and
measures the time from its POST until the last reader has it. Target (issue 4): <= 20 KiB/reader.

    python bench/capacity.py [--readers 10000] [--procs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile

from _common import Server, figures, loadtest_args, machine, run_loadtest, save, today


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before measuring")
    args = parser.parse_args()
    print(f"bench/capacity.py on {machine()}, {today()}")
    memory: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp,
        Server.realtime(tmp) as server,
    ):
        memory["before"] = server.rss_kib()

        async def idle() -> None:
            await asyncio.sleep(args.settle)
            memory["connected"] = server.rss_kib()

        argv = loadtest_args(
            server,
            "--readers", str(args.readers), "--posters", "1", "--rate", "0",
            "--comments", "1", "--procs", str(args.procs), "--connect-timeout", "60",
            "--drain-timeout", "60",
        )  # fmt: skip
        report = run_loadtest(argv, after_connect=idle)
        memory["after"] = server.rss_kib()
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
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
