"""`realtime loadtest`: many WebSocket readers, a few HTTP posters, every delivery timed, checked.

Modules, in the order a run uses them: `args` (the command line), `run` (the coordinator),
`readers` (the reader processes), `posters`, `histogram`, `protocol` (between processes),
`report` (JSON), `display` (rich), `html` (the HTML page), `cli` (the entry point). It imports only
`realtime.models` from the server, so it can load-test a server anywhere.
"""

from __future__ import annotations

from realtime.loadtest.args import Options, UsageError, parse
from realtime.loadtest.cli import main, measure
from realtime.loadtest.report import Report
from realtime.loadtest.run import RunError

__all__ = ["Options", "Report", "RunError", "UsageError", "main", "measure", "parse"]
