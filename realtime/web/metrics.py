"""`GET /metrics` in the Prometheus text format, and the request-latency middleware.

Counters that the hub, the writer and the service already keep as plain integers are read at
scrape time by a collector, so the hot path pays nothing for them; only the two histograms are
observed as things happen (one per request, one per group commit).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from realtime.web.stalls import GcPauses, LoopLag

if TYPE_CHECKING:
    from realtime.backups import AutoBackup
    from realtime.service import CommentService
    from realtime.web.descriptors import DescriptorBudget


class Metrics:
    def __init__(self, descriptors: DescriptorBudget | None = None) -> None:
        self._descriptors = descriptors
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "realtime_http_request_seconds",
            "HTTP request latency",
            ["method", "status"],
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "realtime_db_commit_seconds",
            "Time of one group commit (BEGIN to COMMIT)",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "realtime_event_loop_lag_seconds",
            "How late a timer due every 20 ms ran: the event loop's stalls",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        gc_pause = Histogram(
            "realtime_gc_pause_seconds",
            "Pauses of the cyclic garbage collector, by generation",
            ["generation"],
            buckets=(0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self._gc_pause = [gc_pause.labels(str(generation)) for generation in range(3)]
        self._service: CommentService | None = None
        self._backups: AutoBackup | None = None
        self.registry.register(self)

    def bind(self, service: CommentService, backups: AutoBackup | None = None) -> None:
        self._service = service
        self._backups = backups
        service.store.writer.stats.observers.append(
            lambda seconds, _jobs: self.commit_seconds.observe(seconds)
        )

    @contextlib.contextmanager
    def watching_stalls(self, stall_log_seconds: float) -> Iterator[LoopLag]:
        """While the app runs: the loop's lag and the collector's pauses (see `stalls`)."""
        pauses = GcPauses(lambda generation, seconds: self._gc_pause[generation].observe(seconds))
        lag = LoopLag(self.loop_lag.observe, pauses, stall=stall_log_seconds or float("inf"))
        pauses.install()
        lag.start()
        try:
            yield lag
        finally:
            lag.stop()
            pauses.uninstall()

    def collect(self) -> Iterator[Metric]:
        service = self._service
        if service is None:
            return
        hub, writer = service.hub.stats, service.store.writer.stats
        yield GaugeMetricFamily("realtime_readers", "Open WebSockets", value=service.sockets.open)
        yield GaugeMetricFamily(
            "realtime_gc_frozen_objects",
            "Objects kept out of the garbage collector's passes (gc.freeze)",
            value=gc.get_freeze_count(),
        )
        for name, text, value in (
            ("realtime_events_published", "Events published to the hub", hub.published),
            ("realtime_deliveries", "Events handed to readers' sockets", hub.deliveries),
            ("realtime_slow_readers_closed", "Readers closed with 1013", hub.slow_readers_closed),
            ("realtime_comments_posted", "Comments accepted (201)", service.comments_posted),
            ("realtime_group_commits", "Write transactions", writer.transactions),
            ("realtime_group_commit_jobs", "Writes in those transactions", writer.jobs),
        ):
            yield CounterMetricFamily(name, text, value=value)
        refused = CounterMetricFamily(
            "realtime_readers_refused",
            "Readers refused at a limit (1013, or 503 for a stream)",
            labels=["limit"],
        )
        for limit, count in service.sockets.refused.items():
            refused.add_metric([limit], count)
        yield refused
        if self._descriptors is not None:
            yield CounterMetricFamily(
                "realtime_connections_refused",
                "New connections answered 503 near the open-file limit",
                value=self._descriptors.refused,
            )
        yield from _notifications(service)
        yield from self._collect_backups()

    def _collect_backups(self) -> Iterator[Metric]:
        if self._backups is None:
            return
        stats = self._backups.stats
        yield CounterMetricFamily("realtime_backups", "Automatic backups taken", value=stats.taken)
        yield CounterMetricFamily(
            "realtime_backup_failures", "Automatic backups that failed", value=stats.failed
        )
        yield GaugeMetricFamily(
            "realtime_last_backup_timestamp_seconds",
            "Unix time of the newest good automatic backup (0: none yet)",
            value=stats.last_success,
        )

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _notifications(service: CommentService) -> Iterator[Metric]:
    """Delivery attempts of notifications by outcome, channel and kind (the event)."""
    families = {
        outcome: CounterMetricFamily(
            f"realtime_notifications_{outcome}", text, labels=["channel", "kind"]
        )
        for outcome, text in (
            ("sent", "Notifications delivered"),
            ("retried", "Notification attempts that failed and will be tried again"),
            ("dead", "Notifications given up after their last attempt"),
        )
    }
    for (outcome, channel, kind), value in sorted(service.notifier.stats.outcomes.items()):
        families[outcome].add_metric([channel, kind], value)
    yield from families.values()


class TimingMiddleware:
    """Observes each HTTP request's latency, labelled by method and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/sse/"):
            # An event stream lasts as long as its reader stays: no request latency to observe.
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.request_seconds.labels(scope["method"], str(status)).observe(elapsed)
