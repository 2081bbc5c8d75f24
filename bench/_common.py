"""What the bench scripts share: a realtime server in a subprocess, its memory, the loadtest.

Every server listens on 127.0.0.1 on a port the OS picks; nothing here talks to another host.
The scripts print the command that produced each figure, so a figure can be reproduced.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from realtime.config import Settings
from realtime.loadtest import Report, measure, parse
from realtime.loadtest.protocol import raise_file_limit
from realtime.loadtest.run import Hook

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ADMIN = "bench-admin-token"
STALL_MS = 50  # loop stalls at least this long are logged by both servers (with their GC share)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env() -> dict[str, str]:
    """The server's environment: admin token, and rate limits off where the setting exists."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALTIME_")}
    env["REALTIME_ADMIN_TOKEN"] = ADMIN
    env["REALTIME_LOG_LEVEL"] = "warning"
    if "rate_limit" in Settings.__struct_fields__:
        env["REALTIME_RATE_LIMIT"] = "off"
    if "loop_stall_log_ms" in Settings.__struct_fields__:
        env["REALTIME_LOOP_STALL_LOG_MS"] = str(STALL_MS)
    return env


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer /healthz in {timeout} s")


class Server:
    """A server process on a free loopback port; `with Server.realtime() as s:` stops it after."""

    def __init__(self, argv: list[str], url: str, ws_url: str, env: dict[str, str]) -> None:
        self.argv, self.url, self.ws_url, self.env = argv, url, ws_url, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)

    @classmethod
    def realtime(cls, db_dir: str, source: str | None = None) -> Server:
        """`realtime serve`; with `source`, the package from that tree (an older commit's
        `git archive`), run with this venv's libraries."""
        port = free_port()
        argv = [sys.executable, "-m", "realtime", "serve", "--port", str(port)]
        argv += ["--db", str(Path(db_dir) / "bench.db")]
        url = f"http://127.0.0.1:{port}"
        env = server_env()
        if source is not None:
            env["PYTHONPATH"] = source
            env.pop("REALTIME_LOOP_STALL_LOG_MS", None)  # a setting older trees do not know
        return cls(argv, url, f"ws://127.0.0.1:{port}", env)

    @classmethod
    def baseline(cls) -> Server:
        ws_port, http_port = free_port(), free_port()
        script = str(ROOT / "bench" / "baseline_ws.py")
        argv = [sys.executable, script, "--port", str(ws_port), "--http-port", str(http_port)]
        argv += ["--stall-ms", str(STALL_MS)]
        return cls(argv, f"http://127.0.0.1:{http_port}", f"ws://127.0.0.1:{ws_port}", server_env())

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_file_limit,
        )
        wait_healthy(self.url, self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def metrics(self) -> dict[str, float]:
        """The server's /metrics samples: `name{labels}` -> value."""
        text = httpx.get(f"{self.url}/metrics", timeout=10, trust_env=False).text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def log_lines(self) -> list[str]:
        return Path(self.log.name).read_text(errors="replace").splitlines()


class StallWatch:
    """A server's loop stalls and GC pauses between `start()` and `stop()`, from its /metrics
    (`realtime_event_loop_lag_seconds`, `realtime_gc_pause_seconds`) and its stall log lines."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._before: dict[str, float] = {}
        self._lines = 0
        self.figures: dict[str, Any] = {}

    async def start(self) -> None:
        self._before = await asyncio.to_thread(self.server.metrics)
        self._lines = len(self.server.log_lines())

    async def stop(self) -> None:
        after = await asyncio.to_thread(self.server.metrics)
        stalls = [line for line in self.server.log_lines()[self._lines :] if "stalled" in line]
        self.figures = stall_figures(self._before, after, stalls)


def stall_figures(before: dict[str, float], after: dict[str, float], lines: list[str]) -> Any:
    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    lag = "realtime_event_loop_lag_seconds"
    ticks = delta(f"{lag}_count")
    figures: dict[str, Any] = {
        "lag_ticks": int(ticks),
        "lag_over_50ms": int(ticks - delta(f'{lag}_bucket{{le="0.05"}}')),
        "lag_over_100ms": int(ticks - delta(f'{lag}_bucket{{le="0.1"}}')),
        "stalls_ms": [],
        "gc": {},
    }
    for line in lines:  # "... stalled for 412 ms (garbage collection: 398 ms of it)"
        words = line.split()
        at = words.index("for")
        figures["stalls_ms"].append((int(words[at + 1]), int(words[at + 5])))
    for generation in range(3):
        label = f'{{generation="{generation}"}}'
        count = delta(f"realtime_gc_pause_seconds_count{label}")
        total = delta(f"realtime_gc_pause_seconds_sum{label}")
        figures["gc"][generation] = (int(count), round(total * 1000, 1))
    return figures


def stall_summary(figures: dict[str, Any]) -> str:
    stalls = figures.get("stalls_ms", [])
    worst = max((ms for ms, _ in stalls), default=0)
    in_gc = sum(gc_ms for _, gc_ms in stalls)
    gcs = ", ".join(f"gen{g} {n}x {ms:.0f} ms" for g, (n, ms) in figures.get("gc", {}).items())
    return (
        f"stalls >= {STALL_MS} ms: {len(stalls)} (worst {worst} ms, {in_gc} ms of them in GC); "
        f"GC: {gcs}"
    )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def py_spy(pid: int, output: str) -> subprocess.Popen[bytes]:
    """Sample `pid` with py-spy (from this venv) until SIGINT, as collapsed stacks per thread."""
    exe = Path(sys.executable).parent / "py-spy"
    command = [
        str(exe),
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--rate",
        "200",
        "--threads",
    ]
    command += ["--output", output, "--nonblocking"]
    print("  $ " + " ".join(command), flush=True)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    proc.wait(timeout=60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The server's CPU time from `start()` (after the readers connect) to `stop()`.

    On a shared machine wall-clock figures move with everyone else's load; the CPU the server
    spends per delivery moves much less, so the scripts report it beside them.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.used = 0.0
        self._start: float | None = None

    async def start(self) -> None:
        self._start = cpu_seconds(self.pid)

    def stop(self) -> float:
        assert self._start is not None
        self.used = cpu_seconds(self.pid) - self._start
        return self.used

    def per_delivery_us(self, deliveries: int) -> float:
        return self.used / deliveries * 1e6 if deliveries else 0.0


def loadtest_args(server: Server, *extra: str) -> list[str]:
    return [
        "--url", server.url, "--ws-url", server.ws_url, "--admin-token", ADMIN,
        "--no-progress", *extra,
    ]  # fmt: skip


def run_loadtest(
    argv: Sequence[str], after_connect: Hook | None = None, after_posting: Hook | None = None
) -> Report:
    """The same load tester as `realtime loadtest`, run in this process."""
    print("  $ realtime loadtest " + shlex.join(argv).replace(ADMIN, "$TOKEN"), flush=True)
    return asyncio.run(measure(parse(argv), after_connect, after_posting=after_posting))


def reader_cpu(report: Report) -> str:
    """How much CPU the reader processes took: in all, and per delivery."""
    seconds = sum(process.cpu_seconds for process in report.processes)
    wall = max((process.wall_seconds for process in report.processes), default=0.0)
    per = seconds / report.deliveries.total * 1e6 if report.deliveries.total else 0.0
    share = seconds / wall if wall else 0.0
    return f"reader processes {seconds:.1f} s CPU ({share:.0%} of a core, {per:.1f} µs/delivery)"


def machine() -> str:
    """The machine and how busy it is: it is shared, so the load average goes with the figures."""
    cpu = platform.processor() or platform.machine()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
        f"{platform.system()}; load average {load}"
    )


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def save(name: str, data: Any) -> Path:
    """Keep the raw figures under bench/results/ (not committed)."""
    import msgspec

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(data), indent=2))
    return path


def figures(report: Report) -> str:
    d, lat, p = report.deliveries, report.deliveries.latency_ms, report.posts
    ok = "PASS" if report.passed else "FAIL: " + "; ".join(report.failures)
    return (
        f"deliveries {d.total:,}/{d.expected:,} in {d.seconds:.2f} s = {d.per_second:,.0f}/s; "
        f"latency p50 {lat.p50:.1f} ms, p99 {lat.p99:.1f} ms, max {lat.max:.1f} ms; "
        f"posts {p.per_second:.1f}/s, POST p50 {p.latency_ms.p50:.1f} ms; {ok}"
    )
