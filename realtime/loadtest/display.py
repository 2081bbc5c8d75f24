"""What a person watches: a live progress table while the run goes, a summary table at the end."""

from __future__ import annotations

import time

from rich.table import Table

from realtime.loadtest.report import Percentiles, Report, rows
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


def summary(report: Report) -> Table:
    o = report.options
    title = (
        f"realtime loadtest: {o.readers} readers, {o.articles} article(s), {o.posters} posters, "
        f"run {report.run_id}"
    )
    table = Table(title=title, show_header=False)
    for measure, value in rows(report):
        table.add_row(measure, value)
    verdict = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
    table.add_row(
        "result", verdict if report.passed else f"{verdict}: " + "; ".join(report.failures)
    )
    return table
