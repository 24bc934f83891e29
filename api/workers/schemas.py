"""Response bodies of the worker endpoints."""

from __future__ import annotations

from typing import Literal

import msgspec

from api.openapi.fields import UtcDateTime, WorkerStatusText

WorkerStatusName = Literal["Alive", "Down"]


class WorkerOut(msgspec.Struct):
    id: str
    hostname: str
    ip_address: str
    supported_task_types: list[str]
    max_concurrent_tasks: int
    current_task_count: int
    status: WorkerStatusText
    load_percentage: float
    last_heartbeat: UtcDateTime
    registered_at: UtcDateTime


class WorkerStatsOut(msgspec.Struct):
    total_tasks_executed: int
    successful_tasks: int
    failed_tasks: int
    success_rate: float
    average_execution_time_ms: float | None
    current_load_percentage: float
    uptime_seconds: int
    tasks_last_24h: int
    tasks_last_7d: int
    last_task_completed: UtcDateTime | None
