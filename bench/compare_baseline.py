"""Steady-rate latency: `realtime` against the bare `websockets.broadcast` baseline, alternating.

For each reader count (default 1,000 and 5,000, all on one article) and each steady rate (default
10 and 50 comments/s), `--rounds` pairs of runs: the baseline (`bench/baseline_ws.py`), then
`realtime serve`, each on a fresh server, the same load test against both: 200 comments of 200
characters, posted over HTTP by 10 posters, readers that are lean asyncio protocols
(`--ws-client lean`: they parse frames themselves and cost less CPU than either server). Each
pair prints its own ratios (realtime / baseline), so a ratio is never only a median's. Each run
also prints both servers' loop stalls and garbage-collector pauses while posting (their /metrics
and stall log lines: the same instruments in both), the server's CPU per delivery and the reader
processes' CPU. Targets (issue 16): p50 <= 1.1x, p99 <= 1.25x, nothing missing.

    python bench/compare_baseline.py [--readers 1000 5000] [--rates 10 50] [--rounds 2]
    python bench/compare_baseline.py --rates 0   # as fast as the posters can (deliveries/s)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from typing import Any

from _common import (
    CpuMeter,
    Server,
    StallWatch,
    figures,
    loadtest_args,
    machine,
    reader_cpu,
    run_loadtest,
    save,
    stall_summary,
    today,
)

from realtime.loadtest import Report

SETTLE = 1.0  # after the last 201, the last deliveries are still on their way


def one_run(kind: str, readers: int, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    """One load test on a fresh server: its report and the server's CPU and stalls."""
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        if kind == "baseline":
            server = Server.baseline()
        else:
            server = Server.realtime(tmp, args.before if kind == "before" else None)
        with server:
            argv = loadtest_args(
                server,
                "--readers", str(readers), "--posters", "10", "--rate", f"{rate:g}",
                "--comments", str(args.comments), "--body-bytes", str(args.body_bytes),
                "--duration", "600", "--procs", str(args.procs), "--drain-timeout", "30",
                "--ws-client", args.ws_client, "--connect-timeout", "60",
            )  # fmt: skip
            meter, stalls = CpuMeter(server.pid), StallWatch(server)

            async def connected() -> None:
                await meter.start()
                await stalls.start()

            async def posted() -> None:
                await asyncio.sleep(SETTLE)
                meter.stop()
                await stalls.stop()

            report = run_loadtest(argv, after_connect=connected, after_posting=posted)
    cpu = meter.per_delivery_us(report.deliveries.total)
    print(f"  {kind:8} {figures(report)}", flush=True)
    print(f"           server CPU {cpu:.1f} µs/delivery; {reader_cpu(report)}", flush=True)
    print(f"           {stall_summary(stalls.figures)}; {machine()}", flush=True)
    return {"kind": kind, "report": report, "cpu_us": cpu, "stalls": stalls.figures}


def ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.2f}x" if theirs else "-"


def compare(base: Report, mine: Report) -> dict[str, Any]:
    b, m = base.deliveries, mine.deliveries
    return {
        "baseline_ms": [b.latency_ms.p50, b.latency_ms.p99, b.latency_ms.max],
        "realtime_ms": [m.latency_ms.p50, m.latency_ms.p99, m.latency_ms.max],
        "p50_ratio": ratio(m.latency_ms.p50, b.latency_ms.p50),
        "p99_ratio": ratio(m.latency_ms.p99, b.latency_ms.p99),
        "per_s": [b.per_second, m.per_second],
        "per_s_ratio": ratio(m.per_second, b.per_second),
        "passed": [base.passed, mine.passed],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 50.0],
                        help="comments/s; 0 = as fast as the posters can")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2, help="baseline/realtime pairs each")
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--body-bytes", type=int, default=200)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--ws-client", choices=["lean", "websockets"], default="lean")
    parser.add_argument("--before", metavar="DIR",
                        help="also run the realtime package of this tree in each round, e.g. "
                             "`git archive <commit> | tar -x -C DIR`")  # fmt: skip
    args = parser.parse_args()
    print(f"bench/compare_baseline.py on {machine()}, {today()}")
    rows: list[dict[str, Any]] = []
    for readers in args.readers:
        for rate in args.rates:
            for round_ in range(1, args.rounds + 1):
                print(f"{readers} readers, {rate:g}/s, round {round_}:", flush=True)
                base = one_run("baseline", readers, rate, args)
                if args.before:
                    older = one_run("before", readers, rate, args)["report"].deliveries.latency_ms
                    theirs = base["report"].deliveries.latency_ms
                    print(f"  -> before / baseline: p50 {ratio(older.p50, theirs.p50)}, "
                          f"p99 {ratio(older.p99, theirs.p99)}")  # fmt: skip
                mine = one_run("realtime", readers, rate, args)
                row = {"readers": readers, "rate": rate, "round": round_}
                row |= compare(base["report"], mine["report"])
                row["cpu_us"] = [round(base["cpu_us"], 2), round(mine["cpu_us"], 2)]
                row["stalls"] = [base["stalls"], mine["stalls"]]
                print(f"  -> p50 {row['p50_ratio']}, p99 {row['p99_ratio']}", flush=True)
                rows.append(row)
    print()
    print_table(rows)
    save("compare_baseline", rows)
    return 0 if all(all(row["passed"]) for row in rows) else 1


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| readers | rate | round | p50 / p99 / max ms, baseline | realtime | p50 ratio "
          "| p99 ratio | server CPU µs/delivery, baseline / realtime | stalls >= 50 ms, "
          "baseline / realtime |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ms_b = " / ".join(f"{v:.1f}" for v in row["baseline_ms"])
        ms_m = " / ".join(f"{v:.1f}" for v in row["realtime_ms"])
        stalls = " / ".join(str(len(side["stalls_ms"])) for side in row["stalls"])
        rate = "max" if row["rate"] == 0 else f"{row['rate']:g}/s"
        print(
            f"| {row['readers']:,} | {rate} | {row['round']} | {ms_b} | {ms_m} | "
            f"{row['p50_ratio']} | {row['p99_ratio']} | {row['cpu_us'][0]:.1f} / "
            f"{row['cpu_us'][1]:.1f} | {stalls} |"
        )


if __name__ == "__main__":
    sys.exit(main())
