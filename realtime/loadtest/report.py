"""The report of one run: built from the run's state, checked, and written as JSON.

`Report` is the JSON form (`--json`); the summary table and the HTML page are drawn from it.
Durations are in milliseconds; `latency_histogram` keeps the raw buckets (microseconds) so that
reports can be merged or re-plotted.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from realtime.loadtest.args import Options
from realtime.loadtest.histogram import Histogram, HistogramData
from realtime.loadtest.run import BIN_SECONDS, RunState

K = TypeVar("K")


class Percentiles(msgspec.Struct):
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    mean: float

    @classmethod
    def of(cls, histogram: Histogram) -> Percentiles:
        def ms(micros: float) -> float:
            return round(micros / 1000, 3)

        p50, p90, p99, p999 = (ms(histogram.percentile(q)) for q in (0.5, 0.9, 0.99, 0.999))
        return cls(p50, p90, p99, p999, ms(histogram.max), ms(histogram.mean()))


class Readers(msgspec.Struct):
    requested: int
    connected: int
    failed: int
    connect_errors: dict[str, int]
    closed_during_run: dict[str, int]
    connect_ms: Percentiles


class Posts(msgspec.Struct):
    sent: int
    acknowledged: int
    statuses: dict[str, int]
    errors: dict[str, int]
    seconds: float
    per_second: float
    latency_ms: Percentiles


class Deliveries(msgspec.Struct):
    total: int
    expected: int
    seconds: float
    per_second: float
    latency_ms: Percentiles
    other_messages: int


class Correctness(msgspec.Struct):
    missing: int
    duplicated: int
    out_of_order: int
    extra: int
    readers_with_problems: int


class Process(msgspec.Struct):
    readers: int
    cpu_seconds: float
    wall_seconds: float


class Timeline(msgspec.Struct):
    bin_seconds: float
    deliveries: list[int]
    posts: list[int]


class Report(msgspec.Struct):
    run_id: str
    started: str
    seconds: float
    options: Options
    readers: Readers
    posts: Posts
    deliveries: Deliveries
    correctness: Correctness
    processes: list[Process]
    timeline: Timeline
    latency_histogram: HistogramData
    failures: list[str]
    passed: bool


def build(state: RunState) -> Report:
    options = state.options
    latency = Histogram()
    connect = Histogram()
    for result in state.results:
        latency.merge(result.latency)
    for ready in state.readies:
        connect.merge(ready.connect)
    readers = _readers(state, connect)
    posts = _posts(state)
    deliveries = _deliveries(state, latency)
    correctness = Correctness(
        missing=sum(r.missing for r in state.results),
        duplicated=sum(r.duplicated for r in state.results),
        out_of_order=sum(r.out_of_order for r in state.results),
        extra=sum(r.extra for r in state.results),
        readers_with_problems=sum(r.readers_with_problems for r in state.results),
    )
    failures = check(readers, posts, correctness)
    return Report(
        run_id=state.run_id,
        started=datetime.fromtimestamp(state.t_base, UTC).isoformat(timespec="seconds"),
        seconds=round(time.monotonic() - state.started, 3),
        options=_redacted(options),
        readers=readers,
        posts=posts,
        deliveries=deliveries,
        correctness=correctness,
        processes=[
            Process(proc.spec.count, round(r.cpu_seconds, 3), round(r.wall_seconds, 3))
            for proc, r in zip(state.procs, state.results, strict=True)
        ],
        timeline=_timeline(state),
        latency_histogram=latency.data(),
        failures=failures,
        passed=not failures,
    )


def _redacted(options: Options) -> Options:
    """Reports get shared: never write the admin token into one."""
    hidden = "(set)" if options.admin_token else None
    return msgspec.structs.replace(options, admin_token=hidden)


def _readers(state: RunState, connect: Histogram) -> Readers:
    errors: dict[str, int] = {}
    closed: dict[str, int] = {}
    for ready in state.readies:
        _add(errors, ready.errors)
    for result in state.results:
        _add(closed, result.closed)
    return Readers(
        requested=state.options.readers,
        connected=sum(r.connected for r in state.readies),
        failed=sum(r.failed for r in state.readies),
        connect_errors=errors,
        closed_during_run=closed,
        connect_ms=Percentiles.of(connect),
    )


def _posts(state: RunState) -> Posts:
    stats = state.posts
    seconds = (state.posting_ended or 0) - (state.posting_started or 0)
    return Posts(
        sent=stats.sent,
        acknowledged=stats.acknowledged,
        statuses=stats.statuses,
        errors=stats.errors,
        seconds=round(seconds, 3),
        per_second=round(stats.sent / seconds, 2) if seconds > 0 else 0.0,
        latency_ms=Percentiles.of(stats.latency),
    )


def _deliveries(state: RunState, latency: Histogram) -> Deliveries:
    """Deliveries per second over the window from the first post sent to the last delivery."""
    total = sum(r.deliveries for r in state.results)
    last = max((r.last_delivery for r in state.results), default=0.0)
    first = state.posts.first_sent
    seconds = last - first if first is not None and last > first else 0.0
    return Deliveries(
        total=total,
        expected=sum(r.expected for r in state.results),
        seconds=round(seconds, 3),
        per_second=round(total / seconds, 1) if seconds > 0 else 0.0,
        latency_ms=Percentiles.of(latency),
        other_messages=sum(r.other_messages for r in state.results),
    )


def _timeline(state: RunState) -> Timeline:
    merged: dict[int, int] = {}
    for result in state.results:
        _add(merged, result.timeline)
    posts = state.posts.timeline
    end = max([*merged, *posts], default=-1) + 1
    start = min([*merged, *posts], default=0)
    return Timeline(
        bin_seconds=BIN_SECONDS,
        deliveries=[merged.get(slot, 0) for slot in range(start, end)],
        posts=[posts.get(slot, 0) for slot in range(start, end)],
    )


def _add(into: dict[K, int], more: dict[K, int]) -> None:
    for key, n in more.items():
        into[key] = into.get(key, 0) + n


def check(readers: Readers, posts: Posts, correctness: Correctness) -> list[str]:
    """Every reason the run failed, one line each; an empty list is a pass."""
    failures = []
    if readers.failed:
        failures.append(
            f"{readers.failed} readers could not connect: {_kinds(readers.connect_errors)}"
        )
    closed = sum(readers.closed_during_run.values())
    if closed:
        failures.append(
            f"{closed} readers were closed during the run: {_kinds(readers.closed_during_run)}"
        )
    for name in ("missing", "duplicated", "out_of_order"):
        n = getattr(correctness, name)
        if n:
            failures.append(f"{n} {name.replace('_', '-')} deliveries")
    refused = posts.sent - posts.acknowledged
    if refused:
        codes = {**{k: v for k, v in posts.statuses.items() if k != "201"}, **posts.errors}
        hint = " (is the server running with REALTIME_RATE_LIMIT=off?)" if "429" in codes else ""
        failures.append(f"{refused} posts were not acknowledged: {_kinds(codes)}{hint}")
    if posts.acknowledged == 0:
        failures.append("no comment was acknowledged, so nothing was delivered")
    return failures


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _ms(p: Percentiles, keys: tuple[str, ...] = ("p50", "p90", "p99", "p999", "max")) -> str:
    return ", ".join(f"{key} {getattr(p, key):,.1f}" for key in keys) + " ms"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {n}" for key, n in sorted(counts.items())) or "-"


def rows(report: Report) -> list[tuple[str, str]]:
    """The summary as (measure, value) text rows, for the terminal table and the HTML page."""
    r, p, d, c = report.readers, report.posts, report.deliveries, report.correctness
    failed = f" ({_counts(r.connect_errors)})" if r.failed else ""
    cpu = [f"{pr.cpu_seconds / pr.wall_seconds:.0%}" for pr in report.processes if pr.wall_seconds]
    return [
        ("readers", f"{r.connected} connected, {r.failed} failed{failed}"),
        ("connect time", _ms(r.connect_ms, ("p50", "p99", "max"))),
        ("posts", f"{p.sent} sent in {p.seconds:.1f} s ({p.per_second:,.1f}/s)"),
        ("HTTP statuses", _counts({**p.statuses, **p.errors})),
        ("post latency", _ms(p.latency_ms, ("p50", "p90", "p99", "max"))),
        ("deliveries", f"{d.total:,} of {d.expected:,} expected in {d.seconds:.2f} s"),
        ("deliveries/s", f"{d.per_second:,.0f}"),
        ("latency (post to reader)", _ms(d.latency_ms)),
        ("missing", str(c.missing)),
        ("duplicated", str(c.duplicated)),
        ("out of order", str(c.out_of_order)),
        ("reader processes CPU", ", ".join(cpu) or "-"),
    ]


def write_json(report: Report, path: str) -> None:
    data = msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        with open(path, "wb") as out:
            out.write(data)
