"""`--report FILE.html`: one self-contained page (no scripts, no fetches) with inline SVG charts.

Two charts: the end-to-end latency histogram (log-scaled time axis, share of deliveries per bucket,
with p50/p99 marked) and deliveries per second over the run, with the posts per second under it.
"""

from __future__ import annotations

import math
from html import escape

from realtime.loadtest.histogram import Histogram, bucket_bounds
from realtime.loadtest.report import Report, rows

WIDTH, HEIGHT, PAD = 760, 240, 64
# Timeline charts show at least this many seconds per point, so that they read as a trend.
MIN_POINT_SECONDS = 0.5
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:800px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td{padding:.2rem .8rem;border-bottom:1px solid #ddd}
td:first-child{color:#555}.pass{color:#17803d}.fail{color:#b42318}svg{background:#fafafa}
text{font-size:11px;fill:#444}
"""


def render(report: Report) -> str:
    verdict = "PASS" if report.passed else "FAIL"
    table = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows(report))
    failures = "".join(f"<li>{escape(line)}</li>" for line in report.failures)
    o = report.options
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>realtime loadtest {escape(report.run_id)}</title><style>{STYLE}</style></head><body>
<h1>realtime loadtest <span class="{verdict.lower()}">{verdict}</span></h1>
<p>{escape(o.url)}: {o.readers} readers on {o.articles} article(s), {o.posters} posters at
{o.rate:g} comments/s ({"as fast as possible" if o.rate == 0 else "total"}), run {report.run_id},
started {escape(report.started)}.</p>
<ul>{failures}</ul>
<table>{table}</table>
<h2>Latency, post sent to comment received</h2>
{latency_chart(Histogram.of(report.latency_histogram))}
<h2>Deliveries per second (from the first event of the run)</h2>
{timeline_chart(report.timeline.deliveries, report.timeline.bin_seconds, "deliveries/s")}
<h2>Posts per second</h2>
{timeline_chart(report.timeline.posts, report.timeline.bin_seconds, "posts/s")}
</body></html>
"""


def _svg(body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">{body}</svg>'
    )


def _x_axis(ticks: list[tuple[float, str]]) -> str:
    base = HEIGHT - PAD
    parts = [f'<line x1="{PAD}" y1="{base}" x2="{WIDTH - PAD}" y2="{base}" stroke="#888"/>']
    for x, text in ticks:
        parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#888"/>')
        parts.append(f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{text}</text>')
    return "".join(parts)


def _y_label(top: float, unit: str) -> str:
    return (
        f'<text x="{PAD - 6}" y="{PAD}" text-anchor="end">{top:,.0f}</text>'
        f'<text x="{PAD - 6}" y="{HEIGHT - PAD}" text-anchor="end">0</text>'
        f'<text x="{PAD}" y="{PAD - 12}">{escape(unit)}</text>'
    )


def latency_chart(histogram: Histogram) -> str:
    """Bars over a log time axis; each bar is one decade split in 10, as a share of deliveries."""
    if histogram.count == 0:
        return "<p>No deliveries.</p>"
    bins: dict[int, int] = {}
    for index, n in histogram.counts.items():
        micros = max(bucket_bounds(index)[0], 1)
        slot = math.floor(math.log10(micros) * 10)
        bins[slot] = bins.get(slot, 0) + n
    low, high = min(bins), max(bins) + 1
    span = WIDTH - 2 * PAD
    width = span / (high - low)
    top = max(bins.values()) / histogram.count * 100

    def x_of(micros: float) -> float:
        return PAD + (math.log10(max(micros, 1)) * 10 - low) * width

    bars = []
    for slot, n in sorted(bins.items()):
        h = (n / histogram.count * 100) / top * (HEIGHT - 2 * PAD)
        x = PAD + (slot - low) * width
        bars.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{max(width - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="#3b6fb6"><title>{n} deliveries</title></rect>'
        )
    ticks = [(x_of(10**k), _duration(10**k)) for k in range(low // 10, (high + 9) // 10 + 1)]
    marks = []
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        x = x_of(histogram.percentile(fraction))
        marks.append(
            f'<line x1="{x:.1f}" y1="{PAD}" x2="{x:.1f}" y2="{HEIGHT - PAD}" stroke="#b42318" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{PAD + 10}">{name}</text>'
        )
    body = "".join(bars) + _x_axis(ticks) + _y_label(top, "% of deliveries") + "".join(marks)
    return _svg(body, "latency histogram")


def _duration(micros: float) -> str:
    if micros < 1000:
        return f"{micros:g} µs"
    if micros < 1_000_000:
        return f"{micros / 1000:g} ms"
    return f"{micros / 1_000_000:g} s"


def timeline_chart(counts: list[int], bin_seconds: float, unit: str) -> str:
    """A line of events per second, from counts per `bin_seconds` slot."""
    if not counts or max(counts) == 0:
        return "<p>Nothing to show.</p>"
    group = max(1, round(MIN_POINT_SECONDS / bin_seconds), math.ceil(len(counts) / 200))
    counts = [sum(counts[i : i + group]) for i in range(0, len(counts), group)]
    bin_seconds *= group
    rates = [n / bin_seconds for n in counts]
    top = max(rates)
    step = (WIDTH - 2 * PAD) / max(len(rates) - 1, 1)
    points = " ".join(
        f"{PAD + i * step:.1f},{HEIGHT - PAD - rate / top * (HEIGHT - 2 * PAD):.1f}"
        for i, rate in enumerate(rates)
    )
    seconds = len(counts) * bin_seconds
    every = max(1, math.ceil(seconds / 10))
    ticks = [(PAD + (t / bin_seconds) * step, f"{t} s") for t in range(0, int(seconds) + 1, every)]
    line = f'<polyline points="{points}" fill="none" stroke="#3b6fb6" stroke-width="1.5"/>'
    return _svg(line + _x_axis(ticks) + _y_label(top, unit), unit)
