"""Fan-out against the limit: `realtime` versus the bare `websockets` baseline, same load tester.

For each reader count (default 1,000 and 5,000, all on one article) and each server, two runs of
200 comments: as fast as possible (deliveries/s) and at a steady rate (latency; default 10/s, the
low end of the issue's 10-50/s: at 5,000 readers that is already 50,000 deliveries/s, about what
the reader processes can take on a 2-core machine that also runs the server). Prints each run
and the ratios realtime / baseline. Targets (issue 4): deliveries/s >= 0.8x, p99 <= 1.25x.

    python bench/compare_baseline.py [--readers 1000 5000] [--comments 200] [--steady-rate 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from typing import Any

from _common import CpuMeter, Server, figures, loadtest_args, machine, run_loadtest, save, today

from realtime.loadtest import Report


def one_run(kind: str, readers: int, rate: float, args: argparse.Namespace) -> tuple[Report, float]:
    """One load test on a fresh server; the report and the server's CPU µs per delivery."""
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        server = Server.realtime(tmp) if kind == "realtime" else Server.baseline()
        with server:
            argv = loadtest_args(
                server,
                "--readers", str(readers), "--posters", "10", "--rate", f"{rate:g}",
                "--comments", str(args.comments), "--duration", "600",
                "--procs", str(args.procs), "--drain-timeout", "30",
            )  # fmt: skip
            meter = CpuMeter(server.pid)
            report = run_loadtest(argv, after_connect=meter.start)
            meter.stop()
    cpu = meter.per_delivery_us(report.deliveries.total)
    print(f"  {kind:8} {figures(report)}; server CPU {cpu:.1f} µs/delivery", flush=True)
    return report, cpu


def ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.2f}x" if theirs else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--steady-rate", type=float, default=10.0, help="comments/s")
    args = parser.parse_args()
    print(f"bench/compare_baseline.py on {machine()}, {today()}")
    rows: list[dict[str, Any]] = []
    failed = False
    for readers in args.readers:
        for label, rate in (("max", 0.0), ("steady", args.steady_rate)):
            print(f"{readers} readers, {args.comments} comments, rate {label} ({rate:g}/s):")
            base, base_cpu = one_run("baseline", readers, rate, args)
            mine, mine_cpu = one_run("realtime", readers, rate, args)
            failed |= not (base.passed and mine.passed)
            row = summary_row(readers, label, rate, base, mine)
            row["cpu_us"] = [round(base_cpu, 2), round(mine_cpu, 2)]
            row["cpu_ratio"] = ratio(mine_cpu, base_cpu)
            rows.append(row)
    print()
    print_table(rows)
    save("compare_baseline", rows)
    return 1 if failed else 0


def summary_row(
    readers: int, label: str, rate: float, base: Report, mine: Report
) -> dict[str, Any]:
    b, m = base.deliveries, mine.deliveries
    return {
        "readers": readers,
        "rate": label if rate == 0 else f"{rate:g}/s",
        "baseline_per_s": b.per_second,
        "realtime_per_s": m.per_second,
        "per_s_ratio": ratio(m.per_second, b.per_second),
        "baseline_ms": [b.latency_ms.p50, b.latency_ms.p99, b.latency_ms.max],
        "realtime_ms": [m.latency_ms.p50, m.latency_ms.p99, m.latency_ms.max],
        "p99_ratio": ratio(m.latency_ms.p99, b.latency_ms.p99),
        "passed": [base.passed, mine.passed],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| readers | rate | deliveries/s baseline | realtime | ratio "
          "| p50/p99/max ms baseline | realtime | p99 ratio "
          "| server CPU µs/delivery baseline | realtime | ratio |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ms_b = " / ".join(f"{v:.1f}" for v in row["baseline_ms"])
        ms_m = " / ".join(f"{v:.1f}" for v in row["realtime_ms"])
        print(
            f"| {row['readers']:,} | {row['rate']} | {row['baseline_per_s']:,.0f} | "
            f"{row['realtime_per_s']:,.0f} | {row['per_s_ratio']} | {ms_b} | {ms_m} | "
            f"{row['p99_ratio']} | {row['cpu_us'][0]:.1f} | {row['cpu_us'][1]:.1f} | "
            f"{row['cpu_ratio']} |"
        )


if __name__ == "__main__":
    sys.exit(main())
