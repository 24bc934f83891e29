"""Response bodies of the system monitoring endpoints."""

from __future__ import annotations

from typing import Literal

import msgspec

from api.openapi.fields import UtcDateTime

HealthStatus = Literal["healthy", "degraded", "unhealthy"]
ConnectionStatus = Literal["connected", "disconnected"]


class SystemHealthOut(msgspec.Struct):
    status: HealthStatus
    """``healthy``: both dependencies answer; ``degraded``: one does not; ``unhealthy``: neither."""
    database_status: ConnectionStatus
    message_queue_status: ConnectionStatus
    """Temporal, the scheduler's queue and engine."""
    uptime_seconds: int
    timestamp: UtcDateTime


class SystemStatsOut(msgspec.Struct):
    total_tasks: int
    active_tasks: int
    total_workers: int
    active_workers: int
    running_task_runs: int
    completed_task_runs_today: int
    """Runs that ended ``Completed`` since 00:00 UTC."""
    failed_task_runs_today: int
    """Runs that ended ``Failed`` or ``Timeout`` since 00:00 UTC."""
