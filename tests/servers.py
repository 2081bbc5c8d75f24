"""Real servers for tests: uvicorn in a thread, or in a subprocess that a test can kill."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from realtime.config import Settings, load_settings
from realtime.web.app import create_app
from realtime.web.server import uvicorn_config

ROOT = Path(__file__).resolve().parent.parent
# Timeouts in tests are multiples of this unit; raise it on a slow machine.
UNIT = float(os.environ.get("TEST_TIME_UNIT", "1.0"))


def make_settings(db: str | Path, **overrides: Any) -> Settings:
    overrides.setdefault("log_level", "warning")
    # gc.freeze() is process-wide, and this process is pytest's (ProcessServer runs it "on").
    overrides.setdefault("gc_freeze", "off")
    return load_settings(environ={}, db=str(db), **overrides)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThreadServer:
    """The real app under uvicorn on 127.0.0.1, port chosen by the OS, in a background thread."""

    def __init__(self, settings: Settings, **uvicorn_options: Any) -> None:
        self.settings = settings
        self.app = create_app(settings)
        options = {"host": "127.0.0.1", "port": 0, **uvicorn_options}
        config = uvicorn_config(self.app, settings, **options)
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10 * UNIT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10 * UNIT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def service(self) -> Any:
        return self.app.state.service


class ProcessServer:
    """`python -m realtime serve` in a subprocess, for tests that kill it."""

    def __init__(
        self,
        db: str | Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        config: Path | None = None,
        preexec_fn: Callable[[], object] | None = None,
    ) -> None:
        """`db` is a file, or a PostgreSQL URL (then `log` must be given)."""
        self.db = db
        self.config = ["--config", str(config)] if config else []
        self.preexec_fn = preexec_fn  # run in the child before it starts (e.g. setrlimit)
        self.port = port or free_port()
        self.env = {**os.environ, "REALTIME_RATE_LIMIT": "off", **(env or {})}
        if log is None:
            assert isinstance(db, Path), "a PostgreSQL server process needs a log path"
        self.log_path = log or Path(db).with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ProcessServer:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "realtime",
                    *self.config,
                    "serve",
                    "--db",
                    str(self.db),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=ROOT,
                preexec_fn=self.preexec_fn,
            )
        deadline = time.monotonic() + 15 * UNIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server did not answer /healthz")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
                # Not that test's failure, but a shutdown that hangs: shown in the run's warnings
                # summary (pyproject lets this one warning through) with the server's last log.
                tail = self.log_path.read_text(errors="replace")[-1500:]
                message = f"server not stopped 10 s after SIGTERM; its log ends:\n{tail}"
                warnings.warn(message, stacklevel=2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


REDIS_SERVER = shutil.which("redis-server") or "/usr/sbin/redis-server"


class RedisServer:
    """`redis-server` on 127.0.0.1 at a port chosen here (`--port 0` would turn TCP off)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly"]
        args += ["no", "--daemonize", "no", "--dir", str(self.workdir)]
        with (self.workdir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [REDIS_SERVER, *args], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10 * UNIT
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout * UNIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
