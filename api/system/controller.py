"""System monitoring: ``/health`` (liveness), ``/metrics``, ``/api/system/health`` and ``/stats``.

``/health`` and ``/metrics`` need no auth and are never rate limited.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import Controller, Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.envelope import Envelope, ok
from api.observability.metrics import MetricsExporter
from api.openapi.fields import UtcDateTime
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED
from api.system.health import HealthProbe
from api.system.schemas import SystemHealthOut, SystemStatsOut
from api.system.stats import SystemReader

SYSTEM_READ = [requires(Permission.SYSTEM_READ)]
# Litestar appends the charset to text media types itself; given twice, it was sent twice.
METRICS_MEDIA_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")


class Liveness(msgspec.Struct):
    status: str
    timestamp: UtcDateTime


@get("/health", tags=["system"], summary="Liveness probe")
async def health() -> Envelope[Liveness]:
    return ok(Liveness(status="healthy", timestamp=datetime.now(UTC).replace(microsecond=0)))


@get(
    "/metrics",
    tags=["system"],
    summary="Prometheus metrics (text format)",
    media_type=METRICS_MEDIA_TYPE,
)
async def metrics(metrics_exporter: MetricsExporter) -> Response[bytes]:
    return Response(await metrics_exporter.render(), media_type=METRICS_MEDIA_TYPE)


class SystemController(Controller):
    path = "/api/system"
    tags = ["system"]
    security = AUTHENTICATED

    @get(
        "/health",
        guards=[requires(Permission.SYSTEM_READ, offline_ok=True)],
        responses=error_responses(403),
        summary="Database and Temporal reachability, and uptime",
        description=(
            "Always 200 with the truth: `degraded` when the database or Temporal does not "
            "answer within 2 s, `unhealthy` when neither does. While the database is down "
            "a user's token is checked by its signature and role claim alone (API keys "
            "need the database)."
        ),
    )
    async def system_health(self, health_probe: HealthProbe) -> Envelope[SystemHealthOut]:
        return ok(await health_probe.report())

    @get(
        "/stats",
        guards=SYSTEM_READ,
        responses=error_responses(403),
        summary="Counts of tasks, workers and runs; today is since 00:00 UTC",
    )
    async def system_stats(self, system_reader: SystemReader) -> Envelope[SystemStatsOut]:
        return ok(await system_reader.stats())
