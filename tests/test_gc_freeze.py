"""The garbage collector's pauses kept short: no reference cycles made while serving, `gc.freeze`
of what has proven long-lived (`realtime.web.gc_freeze`), and the stalls measured (`stalls`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import time
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from realtime.web.gc_freeze import GcFreezer
from tests.conftest import ADMIN
from tests.servers import ROOT, UNIT, ProcessServer, ThreadServer


def test_serving_makes_no_reference_cycles(start_server: Any) -> None:
    """Posts fanned out to readers, reads, errors, every kind of reader from hello to close: with
    the collector off, the server leaves no garbage in reference cycles (what gc.freeze holds is
    then freed by reference counting when it goes)."""
    server: ThreadServer = start_server()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert httpx.put(f"{server.url}/api/articles/a", json={"title": "A"}, headers=auth).is_success
    command = [sys.executable, "-m", "tests.gc_clients", server.url, server.ws_url]
    subprocess.run([*command, "2"], cwd=ROOT, check=True, timeout=60 * UNIT)  # first uses
    gc.collect()
    gc.disable()
    try:
        subprocess.run([*command, "10"], cwd=ROOT, check=True, timeout=120 * UNIT)
        deadline = time.monotonic() + 10 * UNIT
        while server.service.sockets.open and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5 * UNIT)  # the last connections' callbacks
        gc.set_debug(gc.DEBUG_SAVEALL)
        found = gc.collect()
        kinds = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        gc.collect()
    assert found == 0, kinds.most_common(12)


class Node:
    """An object that can sit in a reference cycle and be watched with a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


async def until(predicate: Any) -> None:
    deadline = time.monotonic() + 5 * UNIT
    while not predicate():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.01)


async def test_freezer_freezes_survivors_and_thaws_on_doubling() -> None:
    """Start-up freezes everything; a full collection freezes its survivors; when the frozen
    objects double (and the last thaw is long enough ago), a thaw frees frozen garbage in
    cycles; stopping unfreezes all."""
    freezer = GcFreezer(thaw_every=0)
    freezer.start()
    try:
        at_start = gc.get_freeze_count()
        assert at_start > 1000
        cycle = Node()
        cycle.other = Node()
        cycle.other.other = cycle
        watched = weakref.ref(cycle)
        kept = [Node() for _ in range(at_start // 4)]
        gc.collect()
        await until(lambda: freezer.freezes >= 1)
        assert gc.get_freeze_count() >= at_start + len(kept) and freezer.thaws == 0
        del cycle
        gc.collect()
        assert watched() is not None  # frozen: the collector does not see it die
        kept += [Node() for _ in range(2 * at_start)]
        gc.collect()
        await until(lambda: freezer.thaws == 1)
        assert watched() is None  # the thaw's full collection freed it
    finally:
        freezer.stop()
    assert gc.get_freeze_count() == 0


async def test_no_thaw_within_the_hour() -> None:
    """However much the frozen heap grows, the whole-heap pause of a thaw comes at most hourly."""
    freezer = GcFreezer()
    freezer.start()
    try:
        kept = [Node() for _ in range(3 * gc.get_freeze_count())]
        gc.collect()
        await until(lambda: freezer.freezes >= 1)
        assert freezer.thaws == 0 and gc.get_freeze_count() >= len(kept)
    finally:
        freezer.stop()


def test_serve_freezes_and_reports_the_collector(tmp_path: Path) -> None:
    """`realtime serve` freezes at start-up; /metrics has the frozen count, the GC pauses by
    generation and the event loop's lag."""
    server = ProcessServer(tmp_path / "db.sqlite").start()
    try:
        text = httpx.get(f"{server.url}/metrics", timeout=10 * UNIT).text
    finally:
        server.stop()
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(samples["realtime_gc_frozen_objects"]) > 10_000
    assert float(samples["realtime_event_loop_lag_seconds_count"]) > 0
    assert 'realtime_gc_pause_seconds_count{generation="2"}' in samples


def test_a_stall_is_measured_and_logged(
    start_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback that holds the loop for 300 ms shows in the lag histogram and in the log."""
    server: ThreadServer = start_server(loop_stall_log_ms=100)
    loop = server.server.servers[0].get_loop()

    def late_ticks() -> float:
        text = httpx.get(f"{server.url}/metrics", timeout=10 * UNIT).text
        samples = dict(
            line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
        )
        lag = "realtime_event_loop_lag_seconds"
        return float(samples[f"{lag}_count"]) - float(samples[f'{lag}_bucket{{le="0.25"}}'])

    before = late_ticks()
    with caplog.at_level(logging.WARNING, logger="realtime.stalls"):
        loop.call_soon_threadsafe(time.sleep, 0.3)
        time.sleep(0.5 * UNIT)
        assert late_ticks() >= before + 1
    assert any("event loop stalled for" in record.message for record in caplog.records)
