"""``scheduler status``: is the system healthy, and what is it doing."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.text import Text

from cli import output, styles
from cli.connection import connect
from cli.errors import ApiFailure
from cli.output import OutputOption
from cli.tables import fields


def status(*, output_format: OutputOption = "table") -> int:
    """System health (database, Temporal) and statistics; exit code 1 unless healthy.

    **Examples**

    ```
    scheduler status
    scheduler status -o json | jq .health.status
    ```
    """
    with connect() as client:
        health = client.get("/api/system/health")
        try:
            stats = client.get("/api/system/stats")
        except ApiFailure as exc:
            # The health report answers while the database is down; the statistics cannot.
            if exc.status < 500:
                raise
            stats = None
            output.note(f"[yellow]statistics unavailable:[/] {escape(exc.message)} ({exc.code})")
    data = {"url": client.base_url, "health": health, "stats": stats}
    output.emit(data, output_format, lambda: _view(data))
    return 0 if health["status"] == "healthy" else 1


def _view(data: dict[str, Any]) -> RenderableType:
    health, stats = data["health"], data["stats"]
    minutes, _ = divmod(int(health["uptime_seconds"]), 60)
    hours, minutes = divmod(minutes, 60)
    report = fields(
        [
            ("server", data["url"]),
            ("status", styles.status(health["status"])),
            ("database", styles.status(health["database_status"])),
            ("temporal", styles.status(health["message_queue_status"])),
            ("api uptime", f"{hours}h {minutes:02d}m"),
        ],
        title="health",
    )
    if stats is None:
        return report
    return Group(
        report,
        Text(""),
        fields(
            [
                ("tasks", f"{stats['total_tasks']} ({stats['active_tasks']} active)"),
                ("workers", f"{stats['total_workers']} ({stats['active_workers']} alive)"),
                ("running now", stats["running_task_runs"]),
                ("completed today", stats["completed_task_runs_today"]),
                ("failed today", stats["failed_task_runs_today"]),
            ],
            title="statistics",
        ),
    )
