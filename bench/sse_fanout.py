"""SSE fan-out beside WebSocket fan-out (issue 12), same server, same script run.

Starts one `realtime serve` on a free loopback port, then runs the same load test against it
with WebSocket readers and with Server-Sent Events readers, alternating (`--pairs` times), and
prints each transport's deliveries/s, POST-to-delivery latency, the server's CPU per delivery and
the reader processes' CPU, with the SSE/WebSocket ratios of the medians. It first times what
each transport adds per message and per reader in the hub (the SSE data line built once, each
SSE reader's own `id:` line and chunk).

    python bench/sse_fanout.py [--readers 1000] [--comments 300] [--rate 0] [--pairs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass

from _common import CpuMeter, Server, figures, loadtest_args, machine, run_loadtest, save, today

from realtime.live.hub import HubStats, Message, Subscriber, sse_data, text_frame
from realtime.loadtest import Report
from realtime.web.resume import Position
from realtime.web.sse import Cursor, DirectEvents, SharedChunk, chunk

PAYLOAD = b'{"type":"comment","comment":{"id":123456,"body":"' + b"x" * 400 + b'"},"count":9}'


@dataclass
class Run:
    transport: str
    report: Report
    server_cpu_us: float  # server CPU per delivery
    reader_cpu_s: float  # all reader processes, whole run

    @property
    def reader_cpu_us(self) -> float:
        total = self.report.deliveries.total
        return self.reader_cpu_s / total * 1e6 if total else 0.0


def micro_us(call: Callable[[], object], number: int = 50_000) -> float:
    """The fastest of 7 timings of `call`, in µs: the least disturbed by a busy machine."""
    return min(timeit.repeat(call, number=number, repeat=7)) / number * 1e6


class NullStream:
    """Takes the bytes and keeps nothing: the hub's own cost, without the socket's."""

    ended = False

    def write(self, data: bytes) -> int:
        return 0

    def open(self) -> None: ...
    def end(self) -> None: ...


def fan_out_us(transport: str, readers: int = 1000, trials: int = 21) -> float:
    """One message through `readers` attached subscribers, per reader, in µs (best of trials)."""
    best = float("inf")
    for trial in range(trials):
        message = Message.of(PAYLOAD, 1000 + trial)
        subscribers = [Subscriber(1 << 20) for _ in range(readers)]
        shared, stats = SharedChunk(), HubStats()
        for subscriber in subscribers:
            if transport == "sse":
                cursor = Cursor(Position(1, 3))
                events = DirectEvents(NullStream(), cursor, 1 << 20, stats, shared)
                subscriber.attach_events(events)
            else:
                subscriber.attach(NullStream())
        started = time.perf_counter()
        for subscriber in subscribers:
            subscriber.offer(message)
        best = min(best, time.perf_counter() - started)
    return best / readers * 1e6


def encode_costs() -> None:
    """What each transport adds per message (once) and per reader (each delivery), in µs."""
    frame = micro_us(lambda: text_frame(PAYLOAD))
    data = micro_us(lambda: sse_data(PAYLOAD))
    cursor = Cursor(Position(1, 3))
    message = Message.of(PAYLOAD, 123456)
    alone = micro_us(lambda: chunk(cursor.encode([message])))
    print(f"  per message, once: WebSocket frame {frame:.2f} µs, SSE data line {data:.2f} µs")
    print(f"  one SSE reader's id line and chunk, built for it alone: {alone:.2f} µs")
    ws, sse = fan_out_us("websocket"), fan_out_us("sse")
    print(f"  hub fan-out per reader, socket write excluded: WebSocket {ws:.2f} µs, SSE {sse:.2f}")
    print(f"    µs (the chunk shared by readers at the same position): {sse / ws:.2f}x")


def one_run(server: Server, transport: str, args: argparse.Namespace) -> Run:
    argv = loadtest_args(
        server,
        "--transport", transport, "--readers", str(args.readers),
        "--posters", str(args.posters), "--rate", str(args.rate),
        "--comments", str(args.comments), "--duration", "600", "--procs", str(args.procs),
        "--article-prefix", f"bench-{transport}",
    )  # fmt: skip
    meter = CpuMeter(server.pid)
    report = run_loadtest(argv, after_connect=meter.start)
    meter.stop()
    readers = sum(process.cpu_seconds for process in report.processes)
    run = Run(transport, report, meter.per_delivery_us(report.deliveries.total), readers)
    print(f"  {transport}: {figures(report)}")
    print(
        f"    server CPU {run.server_cpu_us:.2f} µs/delivery; reader processes "
        f"{run.reader_cpu_s:.1f} s CPU = {run.reader_cpu_us:.2f} µs/delivery; {machine()}"
    )
    return run


def median(runs: list[Run], value: str) -> float:
    return statistics.median(float(getattr(run, value)) for run in runs)


def summary(runs: list[Run]) -> None:
    ws = [run for run in runs if run.transport == "websocket"]
    sse = [run for run in runs if run.transport == "sse"]
    rows = [
        ("deliveries/s", lambda r: r.report.deliveries.per_second),
        ("latency p50 ms", lambda r: r.report.deliveries.latency_ms.p50),
        ("latency p99 ms", lambda r: r.report.deliveries.latency_ms.p99),
        ("server CPU µs/delivery", lambda r: r.server_cpu_us),
        ("reader CPU µs/delivery", lambda r: r.reader_cpu_us),
    ]
    print("\n  | medians | WebSocket | SSE | SSE / WebSocket |")
    print("  | --- | --- | --- | --- |")
    for name, get in rows:
        a = statistics.median(get(run) for run in ws)
        b = statistics.median(get(run) for run in sse)
        print(f"  | {name} | {a:,.2f} | {b:,.2f} | {b / a if a else 0:.2f}x |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--comments", type=int, default=300)
    parser.add_argument("--rate", type=float, default=0, help="0: as fast as the posters can")
    parser.add_argument("--posters", type=int, default=10)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=2, help="WebSocket/SSE runs, alternating")
    args = parser.parse_args()
    print(f"bench/sse_fanout.py on {machine()}, {today()}")
    encode_costs()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp, Server.realtime(tmp) as server:
        for _ in range(args.pairs):
            for transport in ("websocket", "sse"):
                runs.append(one_run(server, transport, args))
    summary(runs)
    print(f"  raw reports: {save('sse_fanout', [run.report for run in runs])}")
    return 0 if all(run.report.passed for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
