"""Slow reader (issue 5): readers that stop reading are closed with 1013; the others do not notice.

Two load-test runs, each against a fresh `realtime serve` with the same settings:

1. baseline: N readers on one article, comments at a steady rate;
2. the same plus K stalled readers: raw TCP sockets that complete the WebSocket handshake and
   then never read. Each has a tiny receive buffer and advertises a small MSS (both set before
   `connect`), like a reader on a slow link; without the small MSS the loopback connection lets
   the kernel absorb ~3 MB per socket before the server's own buffer grows at all.

The server runs with a small backlog bound (`REALTIME_READER_BACKLOG_BYTES`, 64 KiB by default
here) and the comments are padded (`realtime loadtest --body-bytes`), so the stalled readers pass
the bound within the run. After the run each stalled socket is read to its end: the comment
frames it got, the close frame and its code. The close is queued right behind the comment whose
write passed the bound, so that comment's send time (in its body) says when the server closed
it; a thread polling /metrics (`realtime_slow_readers_closed`) gives the server's own count.

Printed: the normal readers' POST-to-delivery latency in both runs and the p99 ratio (target
≤ 2x), missing / duplicated / out-of-order deliveries (must be 0), and for each stalled reader
its close code and after how many seconds of posting it came.

    python bench/slow_reader.py [--readers 500] [--stalled 5] [--comments 200] [--rate 20]
        [--body-bytes 2000] [--backlog-bytes 65536] [--procs 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import socket
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from _common import (
    CpuMeter,
    Server,
    figures,
    loadtest_args,
    machine,
    run_loadtest,
    save,
    today,
)

from realtime.loadtest import Report

SLUG = "loadtest-1"  # the load tester's one article
MARKER = re.compile(r"\[loadtest [0-9a-f]+ ([0-9.]+)\]$")
READ_SECONDS = 20.0  # at most this long to read one stalled socket to its end after the run


@dataclass
class Stalled:
    """A reader that completes the handshake and then never reads, until `collect`."""

    sock: socket.socket
    connected_at: float
    data: bytearray
    comments: int = 0
    first_sent: float | None = None
    last_sent: float | None = None
    close_code: int | None = None
    received: int = 0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def connect(cls, ws_url: str, slug: str, rcvbuf: int, mss: int) -> Stalled:
        parts = urlsplit(ws_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        sock.settimeout(10)
        sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /ws/articles/{slug} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        sock.sendall(request.encode())
        data = bytearray()
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                raise SystemExit("a stalled reader's handshake was refused (connection closed)")
            data += chunk
        head, _, rest = bytes(data).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"a stalled reader's handshake failed: {head[:80]!r}")
        return cls(sock, time.time(), bytearray(rest), received=len(rest))

    def collect(self) -> None:
        """Read everything the server sent, up to its close frame or EOF, then parse it."""
        deadline = time.monotonic() + READ_SECONDS
        self.sock.settimeout(1.0)
        while time.monotonic() < deadline and self.close_code is None:
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                self.parse()
                if self.close_code is None:
                    self.notes.append("nothing more to read")
                break
            except OSError as exc:
                self.notes.append(f"read error {type(exc).__name__}")
                break
            if not chunk:
                self.notes.append("EOF")
                break
            self.received += len(chunk)
            self.data += chunk
            self.parse()
        self.parse()
        self.sock.close()

    def parse(self) -> None:
        """Take whole frames off the front of `data` (server frames are never masked)."""
        data = self.data
        while len(data) >= 2 and self.close_code is None:
            opcode, length, offset = data[0] & 0x0F, data[1] & 0x7F, 2
            if length == 126:
                if len(data) < 4:
                    return
                length, offset = struct.unpack_from(">H", data, 2)[0], 4
            elif length == 127:
                if len(data) < 10:
                    return
                length, offset = struct.unpack_from(">Q", data, 2)[0], 10
            if len(data) < offset + length:
                return
            payload = bytes(data[offset : offset + length])
            del data[: offset + length]
            if opcode == 0x8:
                self.close_code = struct.unpack(">H", payload[:2])[0] if payload else 1005
            elif opcode == 0x1:
                self.take(json.loads(payload))

    def take(self, event: dict[str, object]) -> None:
        comment = event.get("comment")
        if event.get("type") != "comment" or not isinstance(comment, dict):
            return
        found = MARKER.search(str(comment.get("body", "")))
        if found is None:
            return
        sent = float(found.group(1))
        self.comments += 1
        self.first_sent = self.first_sent or sent
        self.last_sent = sent


class MetricsPoller(threading.Thread):
    """Polls /metrics: when the server's count of readers closed with 1013 went up."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.closes: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        seen = 0
        with httpx.Client(base_url=self.url, timeout=2, trust_env=False) as client:
            while not self.stopping.wait(0.1):
                try:
                    text = client.get("/metrics").text
                except httpx.HTTPError:
                    continue
                found = re.search(r"^realtime_slow_readers_closed\S* (\d+)", text, re.M)
                count = int(found.group(1)) if found else 0
                self.closes += [time.time()] * (count - seen)
                seen = max(seen, count)


@dataclass
class Run:
    report: Report
    cpu: float
    load: str
    stalled: list[Stalled]
    metric_closes: list[float]
    posting_started: float | None


def one_run(args: argparse.Namespace, stalled: int) -> Run:
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    label = f"{stalled} stalled readers" if stalled else "baseline, no stalled reader"
    print(f"\nrun: {args.readers} readers, {label} (load average {load})", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp:
        server = Server.realtime(tmp)
        server.env["REALTIME_READER_BACKLOG_BYTES"] = str(args.backlog_bytes)
        with server:
            argv = loadtest_args(
                server,
                "--readers", str(args.readers), "--posters", str(args.posters),
                "--rate", str(args.rate), "--comments", str(args.comments),
                "--body-bytes", str(args.body_bytes), "--duration", "600",
                "--procs", str(args.procs),
            )  # fmt: skip
            meter = CpuMeter(server.pid)
            poller = MetricsPoller(server.url)
            readers: list[Stalled] = []

            async def after_connect() -> None:
                for _ in range(stalled):
                    readers.append(Stalled.connect(server.ws_url, SLUG, args.rcvbuf, args.mss))
                await meter.start()
                poller.start()

            report = run_loadtest(argv, after_connect=after_connect)
            meter.stop()
            poller.stopping.set()
            poller.join()
            for reader in readers:
                reader.collect()
    first = min((r.first_sent for r in readers if r.first_sent), default=None)
    return Run(report, meter.used, load, readers, poller.closes, first)


def latency(report: Report) -> str:
    lat = report.deliveries.latency_ms
    return f"p50 {lat.p50:.1f} ms, p99 {lat.p99:.1f} ms, max {lat.max:.1f} ms"


def correctness(report: Report) -> str:
    c = report.correctness
    return f"missing {c.missing}, duplicated {c.duplicated}, out of order {c.out_of_order}"


def describe(run: Run) -> None:
    report = run.report
    print(f"  {figures(report)}")
    print(f"  normal readers' latency: {latency(report)}; {correctness(report)}")
    closed = report.readers.closed_during_run
    print(f"  normal readers closed during the run: {closed or 'none'}")
    cpu = run.cpu / report.deliveries.total * 1e6 if report.deliveries.total else 0.0
    print(f"  server CPU: {run.cpu:.2f} s, {cpu:.1f} µs per delivery")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=500)
    parser.add_argument("--stalled", type=int, default=5)
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--posters", type=int, default=10)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--body-bytes", type=int, default=2000, help="comment body length")
    parser.add_argument("--backlog-bytes", type=int, default=65536,
                        help="the server's REALTIME_READER_BACKLOG_BYTES")  # fmt: skip
    parser.add_argument("--rcvbuf", type=int, default=4096, help="stalled readers' SO_RCVBUF")
    parser.add_argument("--mss", type=int, default=536, help="stalled readers' TCP_MAXSEG")
    args = parser.parse_args()
    print(f"bench/slow_reader.py on {machine()}, {today()}")
    print(
        f"server: REALTIME_READER_BACKLOG_BYTES={args.backlog_bytes}; stalled readers: "
        f"SO_RCVBUF {args.rcvbuf}, TCP_MAXSEG {args.mss}; comment bodies {args.body_bytes} chars"
    )
    base = one_run(args, 0)
    describe(base)
    slow = one_run(args, args.stalled)
    describe(slow)

    print("\nstalled readers (seconds from the first post):")
    t0 = slow.posting_started
    for n, reader in enumerate(slow.stalled, 1):
        when = ""
        if reader.last_sent is not None and t0 is not None:
            at = reader.last_sent - t0
            when = f", closed behind comment {reader.comments} (posted at {at:.2f} s)"
        code = reader.close_code if reader.close_code is not None else "no close frame"
        notes = f" ({'; '.join(reader.notes)})" if reader.notes else ""
        print(f"  #{n}: close code {code}{when}; {reader.received:,} bytes read in all{notes}")
    if t0 is not None:
        seen = ", ".join(f"{t - t0:.1f}" for t in slow.metric_closes)
        print(f"  server's realtime_slow_readers_closed went up at: {seen or 'never'} s")
    closed = sum(1 for reader in slow.stalled if reader.close_code == 1013)
    b99, s99 = base.report.deliveries.latency_ms.p99, slow.report.deliveries.latency_ms.p99
    ratio = s99 / b99 if b99 else float("inf")
    clean = all(
        c.missing == c.duplicated == c.out_of_order == 0
        for c in (base.report.correctness, slow.report.correctness)
    )
    print("\nsummary:")
    with_stalled = f"with {args.stalled} stalled:"
    print(f"  {'baseline:':<{len(with_stalled)}} {latency(base.report)} (load {base.load})")
    print(f"  {with_stalled} {latency(slow.report)} (load {slow.load})")
    print(f"  p99 ratio {ratio:.2f}x (target ≤ 2x): {'met' if ratio <= 2 else 'MISSED'}")
    print(f"  stalled readers closed with 1013: {closed} of {args.stalled}")
    print(f"  every delivery to the normal readers once and in order: {clean}")
    print(f"  load average at the end: {', '.join(f'{n:.1f}' for n in os.getloadavg())}")
    print(f"  raw reports: {save('slow_reader-baseline', base.report)}, ", end="")
    print(save("slow_reader-stalled", slow.report))
    ok = ratio <= 2 and closed == args.stalled and clean
    ok = ok and base.report.passed and slow.report.passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
