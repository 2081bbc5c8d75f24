"""Logs that a client cannot flood: one line per bad input at most, and few of the same kind.

uvicorn logs what clients get wrong on its `uvicorn.error` logger: an invalid HTTP request, a
WebSocket text frame that is not UTF-8 (at ERROR, with a traceback), every WebSocket opened and
closed; `uvicorn.access` logs every request. A client that repeats one of these thousands of
times would fill the disk. `QuietFilter`, on those loggers and on the app's own, makes each record
one line (a client's exception becomes its one-line summary, newlines in what a client sent are
escaped) and lets at most `BURST` records of one kind (logger, level, message template; for
access lines, the status) through per `INTERVAL`; what it holds back is reported as one line,
"… N more like this in the last 10 s", when the interval ends. Access lines of successful requests
pass untouched, and so do tracebacks of the server's own errors (only rate-limited).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import h11
import httptools
import websockets.exceptions
from starlette.websockets import WebSocketDisconnect
from uvicorn.protocols.utils import ClientDisconnected

INTERVAL = 10.0
BURST = 5
MAX_KINDS = 256
LOGGERS = ("uvicorn.error", "uvicorn.access", "realtime", "realtime.ws", "realtime.http")
# Exceptions that mean "the client sent something wrong (or left)", not "the server is broken".
CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    UnicodeDecodeError,
    WebSocketDisconnect,
    ClientDisconnected,
    websockets.exceptions.WebSocketException,
    h11.RemoteProtocolError,
    httptools.HttpParserError,
)
_SUMMARY = "quiet_summary"

Kind = tuple[str, int, str]


@dataclass
class _Window:
    start: float
    passed: int = 0
    held: int = 0
    flush_scheduled: bool = False


class QuietFilter(logging.Filter):
    def __init__(
        self,
        interval: float = INTERVAL,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.burst = burst
        self.clock = clock
        self._windows: OrderedDict[Kind, _Window] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _SUMMARY, False):
            return True
        if record.name == "uvicorn.access" and _status(record) < 400:
            return True
        kind = _kind(record)  # from the template, before `_one_line` fills it in
        _one_line(record)
        return self._admit(kind)

    def _admit(self, kind: Kind) -> bool:
        now = self.clock()
        due: list[tuple[Kind, int]] = []
        with self._lock:
            window = self._windows.get(kind)
            if window is None or now - window.start >= self.interval:
                if window is not None and window.held:
                    due.append((kind, window.held))
                window = self._windows[kind] = _Window(now)
            self._windows.move_to_end(kind)
            window.passed += 1
            admitted = window.passed <= self.burst
            if not admitted:
                window.held += 1
                if not window.flush_scheduled:
                    window.flush_scheduled = self._schedule(kind, window.start)
            due += self._evict()
        for old_kind, held in due:
            self._summarise(old_kind, held)
        return admitted

    def _evict(self) -> list[tuple[Kind, int]]:
        """Forget the least recent kinds past MAX_KINDS (reporting what they held back)."""
        due = []
        while len(self._windows) > MAX_KINDS:
            kind, window = self._windows.popitem(last=False)
            if window.held:
                due.append((kind, window.held))
        return due

    def _schedule(self, kind: Kind, start: float) -> bool:
        """Report the held-back count when the window ends (needs a running event loop; without
        one the next record of the kind reports it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        delay = max(0.0, start + self.interval - self.clock())
        loop.call_later(delay, self.flush, kind)
        return True

    def flush(self, kind: Kind | None = None) -> None:
        """Report what is held back: for one kind whose window has ended, or for all kinds."""
        now = self.clock()
        due = []
        with self._lock:
            kinds = [kind] if kind is not None else list(self._windows)
            for each in kinds:
                window = self._windows.get(each)
                if window is None or not window.held:
                    continue
                if kind is not None and now - window.start < self.interval:
                    continue
                due.append((each, window.held))
                self._windows[each] = _Window(now, passed=self.burst)
        for each, held in due:
            self._summarise(each, held)

    def _summarise(self, kind: Kind, held: int) -> None:
        name, level, template = kind
        logging.getLogger(name).log(
            level,
            "… %d more like this in the last %.0f s: %s",
            held,
            self.interval,
            template[:200],
            extra={_SUMMARY: True},
        )


def installed(name: str = LOGGERS[0]) -> QuietFilter | None:
    return next((f for f in logging.getLogger(name).filters if isinstance(f, QuietFilter)), None)


def install(names: tuple[str, ...] = LOGGERS) -> QuietFilter:
    """Put one shared filter on each logger (once: servers started again reuse it)."""
    quiet = installed(names[0]) or QuietFilter()
    for name in names:
        logger = logging.getLogger(name)
        if quiet not in logger.filters:
            logger.addFilter(quiet)
    return quiet


def flush() -> None:
    """Report every count still held back (the server is stopping)."""
    quiet = installed()
    if quiet is not None:
        quiet.flush()


def _status(record: logging.LogRecord) -> int:
    args = record.args
    if isinstance(args, tuple) and args and isinstance(args[-1], int):
        return args[-1]
    return 500


def _kind(record: logging.LogRecord) -> Kind:
    if record.name == "uvicorn.access":
        return record.name, record.levelno, f"HTTP {_status(record)} responses"
    return record.name, record.levelno, str(record.msg)


def _one_line(record: logging.LogRecord) -> None:
    """Fold a client's exception into the message; escape newlines a client may have sent."""
    exc = record.exc_info[1] if record.exc_info else None
    if exc is not None and not isinstance(exc, CLIENT_ERRORS):
        return  # the server's own error: its traceback is what an operator needs
    message = record.getMessage().strip()
    if exc is not None:
        message = f"{message} ({type(exc).__name__}: {exc})"
        record.exc_info = None
        record.exc_text = None
    if "\n" in message or "\r" in message:
        message = message.replace("\r", "\\r").replace("\n", "\\n")
    record.msg, record.args = message, None
