"""What a person watches: a live progress table while the run goes, a summary table at the end."""

from __future__ import annotations

import time

from rich.table import Table

from realtime.loadtest.report import Percentiles, Report
from realtime.loadtest.run import RunState


class ProgressView:
    """Renders `RunState` for `rich.live.Live`; deliveries/s is measured between two renders."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self._last = (time.monotonic(), 0)

    def __rich__(self) -> Table:
        state, options = self.state, self.state.options
        progress = state.progress()
        connected = sum(p.connected for p in progress)
        failed = sum(p.failed for p in progress)
        closed = sum(p.closed for p in progress)
        deliveries = sum(p.deliveries for p in progress)
        now = time.monotonic()
        then, before = self._last
        rate = (deliveries - before) / (now - then) if now > then else 0.0
        self._last = (now, deliveries)
        latency = Percentiles.of(state.live_latency())
        posts = state.posts
        table = Table(title=f"realtime loadtest {options.url}", show_header=False)
        table.add_row("phase", f"{state.phase}, {now - state.started:.1f} s")
        table.add_row(
            "readers", f"{connected}/{options.readers} ({failed} failed, {closed} closed)"
        )
        table.add_row("posts", f"{posts.sent} sent, {posts.acknowledged} acknowledged")
        table.add_row("deliveries", f"{deliveries:,} ({rate:,.0f}/s)")
        table.add_row("latency", f"p50 {latency.p50:.1f} ms, p99 {latency.p99:.1f} ms")
        return table


def _ms(p: Percentiles, keys: tuple[str, ...] = ("p50", "p90", "p99", "p999", "max")) -> str:
    return ", ".join(f"{key} {getattr(p, key):,.1f}" for key in keys) + " ms"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {n}" for key, n in sorted(counts.items())) or "-"


def summary(report: Report) -> Table:
    r, p, d, c = report.readers, report.posts, report.deliveries, report.correctness
    o = report.options
    title = (
        f"realtime loadtest: {o.readers} readers, {o.articles} article(s), {o.posters} posters, "
        f"run {report.run_id}"
    )
    table = Table(title=title, show_header=False)
    failed = f" ({_counts(r.connect_errors)})" if r.failed else ""
    table.add_row("readers", f"{r.connected} connected, {r.failed} failed{failed}")
    table.add_row("connect time", _ms(r.connect_ms, ("p50", "p99", "max")))
    table.add_row("posts", f"{p.sent} sent in {p.seconds:.1f} s ({p.per_second:,.1f}/s)")
    table.add_row("HTTP statuses", _counts({**p.statuses, **p.errors}))
    table.add_row("post latency", _ms(p.latency_ms, ("p50", "p90", "p99", "max")))
    table.add_row("deliveries", f"{d.total:,} of {d.expected:,} expected in {d.seconds:.2f} s")
    table.add_row("deliveries/s", f"{d.per_second:,.0f}")
    table.add_row("latency (post to reader)", _ms(d.latency_ms))
    table.add_row("missing", str(c.missing))
    table.add_row("duplicated", str(c.duplicated))
    table.add_row("out of order", str(c.out_of_order))
    cpu = ", ".join(
        f"{pr.cpu_seconds / pr.wall_seconds:.0%}" for pr in report.processes if pr.wall_seconds
    )
    table.add_row("reader processes CPU", cpu or "-")
    verdict = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
    table.add_row(
        "result", verdict if report.passed else f"{verdict}: " + "; ".join(report.failures)
    )
    return table
