"""The one log line per run transition, the same shape in every process."""

from __future__ import annotations

import logging

log = logging.getLogger("scheduler.runs")


def log_transition(task_id: int, run_id: int, status: str) -> None:
    """``run <run> of task <task>: <status>``; JSON logs carry the three as fields."""
    log.info(
        "run %s of task %s: %s",
        run_id,
        task_id,
        status,
        extra={"task_id": task_id, "run_id": run_id, "run_status": status},
    )
