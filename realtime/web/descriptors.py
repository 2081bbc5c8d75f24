"""Keeping the process clear of its open-file limit (`ulimit -n`).

At the limit itself the accept loop can do nothing useful: uvloop (libuv) accepts each new
connection and drops it without a word, and asyncio's loop logs "socket.accept() out of system
resource" up to its backlog times a second while the connections wait unanswered. So a new
connection is refused a little earlier, while `DescriptorBudget.reserve` descriptors are still
free: `server.BudgetedHttpProtocol` answers it `REFUSAL` (a 503 in the error shape) and closes it.
Connections already open (readers included) are served as before, and one log line says why
(once per episode: after a minute without refusals, a new one logs again). The budget reaches the
protocol through the ASGI lifespan state (`DESCRIPTORS`), so every worker process has its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections.abc import Callable
from typing import Any

from realtime.errors import Unavailable
from realtime.web.raw_error import raw_error

log = logging.getLogger("realtime.server")
# The key of the `DescriptorBudget` in the lifespan state that uvicorn hands every connection.
DESCRIPTORS = "realtime.descriptors"
RECOUNT_SECONDS = 1.0  # how stale the count of open descriptors may be, far from the limit
NEAR_RECOUNT_SECONDS = 0.05  # and near it
EPISODE_SECONDS = 60.0  # refusals this far apart are separate episodes, each logged once
LINGER_SECONDS = 1.0  # a refused client that sends nothing is closed after this
_ACCEPT_EXHAUSTED = "socket.accept() out of system resource"  # asyncio's message
_ACCEPT_RETRY = "BaseSelectorEventLoop._start_serving"  # and the retry it schedules


REFUSAL = raw_error(Unavailable("the server is at its open-file limit; try again later"))


def open_descriptors() -> int | None:
    """How many descriptors the process has open (None where the OS does not say)."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(listing)) - 1  # less the one listdir itself held
        except OSError:
            continue
    return None


class DescriptorBudget:
    """Admits a new connection while the process has `reserve` descriptors to spare."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._others = 0  # descriptors that are not connections, as of the last count
        self._counted_at = float("-inf")
        self._last_refusal = float("-inf")
        self.limit = self.reserve = 0
        self.refused = 0
        self.lingering = 0  # refused connections held open (briefly) to read their request

    def may_linger(self) -> bool:
        """Refusals may hold at most half the reserve, so a flood of them cannot use it all."""
        return self.lingering < self.reserve // 2

    def admit(self, connections: int) -> bool:
        """`connections`: those open now, the new one included."""
        now = self._clock()
        near = self._others + connections >= self.limit - self.reserve
        if now - self._counted_at > (NEAR_RECOUNT_SECONDS if near else RECOUNT_SECONDS):
            self._recount(connections, now)
        in_use = self._others + connections
        if in_use < self.limit - self.reserve:
            return True
        self.refused += 1
        if now - self._last_refusal > EPISODE_SECONDS:
            self._log_exhausted(f"{in_use} descriptors in use")
        self._last_refusal = now
        return False

    def accept_failed(self) -> None:
        """The loop could not accept at all (asyncio): the same episode, logged the same way."""
        now = self._clock()
        if now - self._last_refusal > EPISODE_SECONDS:
            self._log_exhausted("accept() failed: too many open files")
        self._last_refusal = now

    def _recount(self, connections: int, now: float) -> None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.limit = soft if soft != resource.RLIM_INFINITY else 1 << 30
        self.reserve = max(16, min(256, self.limit // 10))
        counted = open_descriptors()
        self._others = counted - connections if counted is not None else 0
        self._counted_at = now

    def _log_exhausted(self, detail: str) -> None:
        log.warning(
            "open-file limit nearly reached (%s, ulimit -n %d): new connections get 503 until "
            "some close; the open ones are served as before. Raise the limit (LimitNOFILE=, "
            "ulimit -n) or lower max_readers",
            detail,
            self.limit,
        )

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fold asyncio's accept errors into this budget's one log line per episode.

        asyncio reports EMFILE once per connection waiting (up to the backlog, each time the
        listening socket wakes) and schedules as many retries, which all fail with a traceback
        if the server closes meanwhile: both are the episode already logged."""
        previous = loop.get_exception_handler()

        def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if context.get("message") == _ACCEPT_EXHAUSTED:
                self.accept_failed()
            elif _ACCEPT_RETRY in repr(context.get("handle")) and self._last_refusal > 0:
                log.debug("accept retry after the server closed: %s", context.get("exception"))
            elif previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handle)
