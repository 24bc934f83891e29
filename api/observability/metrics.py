"""The app's Prometheus registry: HTTP request metrics, and the ``/metrics`` rendering."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from api.observability.collector import DatabaseSnapshots, SchedulerCollector

HTTP_LABELS = ("method", "route", "status")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method is counted as ``OTHER``: clients must not be able to mint new series."""


class HttpMetrics:
    """Request count and latency by method, route template (never the raw path) and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            "scheduler_http_requests",
            "HTTP requests answered, by method, route template and status code",
            HTTP_LABELS,
            registry=registry,
        )
        self._latency = Histogram(
            "scheduler_http_request_duration_seconds",
            "Seconds to answer an HTTP request, by method, route template and status code",
            HTTP_LABELS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method if method in KNOWN_METHODS else "OTHER", route, str(status))
        self._requests.labels(*labels).inc()
        self._latency.labels(*labels).observe(seconds)


class CountsWaits(Protocol):
    @property
    def open(self) -> int: ...


def open_waits_gauge(registry: CollectorRegistry, waiter: CountsWaits) -> Gauge:
    """``scheduler_run_waits_open``: requests of this process holding for a run to end."""
    gauge = Gauge(
        "scheduler_run_waits_open",
        "Requests of this API process waiting (?wait=) for a run to end",
        registry=registry,
    )
    gauge.set_function(lambda: waiter.open)
    return gauge


class MetricsExporter:
    """Renders the registry, the scheduler's database families as of the latest timed read."""

    def __init__(
        self,
        registry: CollectorRegistry,
        collector: SchedulerCollector,
        snapshots: DatabaseSnapshots,
    ) -> None:
        self._registry = registry
        self._collector = collector
        self._snapshots = snapshots

    async def render(self) -> bytes:
        # The collector's collect() is synchronous: hand it the numbers first.
        # Nothing awaits between the two steps, so concurrent scrapes cannot interleave.
        self._collector.show(await self._snapshots.current())
        return generate_latest(self._registry)
