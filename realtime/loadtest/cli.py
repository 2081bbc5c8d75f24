"""The entry point: parse, run with a live display, print the summary, write JSON and HTML."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.live import Live

from realtime.loadtest import html
from realtime.loadtest.args import Options, UsageError, parse
from realtime.loadtest.display import ProgressView, summary
from realtime.loadtest.report import Report, build, write_json
from realtime.loadtest.run import Hook, RunError, RunState, run

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


async def measure(
    options: Options,
    after_connect: Hook | None = None,
    console: Console | None = None,
    after_posting: Hook | None = None,
) -> Report:
    """Run one load test and return its report (the library entry point, used by bench/).
    The hooks run once the readers are connected and once the last post is answered."""
    state = RunState(options)
    if console is None or not options.progress:
        await run(state, after_connect, after_posting)
    else:
        with Live(ProgressView(state), console=console, refresh_per_second=4, transient=True):
            await run(state, after_connect, after_posting)
    return build(state)


def main(argv: Sequence[str] | None = None) -> int:
    def fail(message: str, code: int) -> int:
        print(f"realtime loadtest: error: {message}", file=sys.stderr)
        return code

    try:
        options = parse(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    # With the JSON on stdout, everything meant for people goes to stderr.
    console = Console(stderr=options.json == "-")
    try:
        report = asyncio.run(measure(options, console=console))
    except RunError as exc:
        return fail(str(exc), EXIT_CANNOT_RUN)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    console.print(summary(report))
    try:
        if options.json:
            write_json(report, options.json)
        if options.report:
            Path(options.report).write_text(html.render(report), encoding="utf-8")
    except OSError as exc:
        return fail(f"cannot write the report: {exc}", EXIT_CANNOT_RUN)
    return EXIT_PASSED if report.passed else EXIT_FAILED
