"""Bulk history for ``bench.api_history``: tasks and runs COPYed straight into Postgres.

Not through Temporal: rows are what the mirror would hold after a long life.
Runs arrive at a constant rate, newest last (ids follow time), spread round
robin over the tasks; ``runs_in(first, last)`` writes any id range, so the
newest runs can be written first and older history added under them later.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

TASK_COLUMNS = (
    "id",
    "name",
    "task_type",
    "schedule",
    "timezone",
    "parameters",
    "timeout_seconds",
    "max_retries",
    "dependency_timeout_seconds",
    "status",
    "created_at",
    "updated_at",
)
RUN_COLUMNS = (
    "id",
    "task_id",
    "workflow_id",
    "temporal_run_id",
    "trigger",
    "status",
    "worker_id",
    "retry_count",
    "scheduled_at",
    "dispatched_at",
    "started_at",
    "completed_at",
    "result",
    "error_message",
    "execution_duration_ms",
    "definition",
    "created_at",
    "updated_at",
)
WORKERS = ("bench-shell-1", "bench-shell-2", "bench-http-1", "bench-python-1")
OPEN_NEWEST = 20  # the newest runs are still Running, as on a live system
BATCH = 50_000


async def connect(database_url: str) -> asyncpg.Connection:
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )


class History:
    """``tasks`` tasks and ``total_runs`` runs over ``days`` days ending at ``now``."""

    def __init__(self, tasks: int, total_runs: int, days: float, now: datetime) -> None:
        self.tasks = tasks
        self.total_runs = total_runs
        self.now = now
        self.spacing = timedelta(days=days) / max(total_runs, 1)

    def _definition(self, task_id: int) -> str:
        return json.dumps(
            {
                "name": f"seeded-{task_id}",
                "task_type": "shell",
                "schedule": "*/5 * * * *",
                "parameters": {"command": "true"},
                "timeout_seconds": 3600,
                "max_retries": 0,
                "dependencies": [],
                "dependency_timeout_seconds": 3600,
            }
        )

    def task_records(self) -> list[tuple[Any, ...]]:
        created = self.now - self.spacing * self.total_runs - timedelta(days=1)
        return [
            (
                task_id,
                f"seeded-{task_id}",
                "shell",
                "*/5 * * * *",
                None,
                json.dumps({"command": "true"}),
                3600,
                0,
                None,
                "Active" if task_id % 10 else "Inactive",
                created,
                created,
            )
            for task_id in range(1, self.tasks + 1)
        ]

    def runs_in(self, first: int, last: int) -> Iterator[list[tuple[Any, ...]]]:
        """Records of run ids ``first..last`` (inclusive), in batches."""
        rng = random.Random(first)
        definitions: dict[int, str] = {}
        batch: list[tuple[Any, ...]] = []
        for run_id in range(first, last + 1):
            task_id = (run_id - 1) % self.tasks + 1
            definition = definitions.get(task_id)
            if definition is None:
                definition = definitions[task_id] = self._definition(task_id)
            scheduled = self.now - self.spacing * (self.total_runs - run_id) - timedelta(minutes=1)
            started = scheduled + timedelta(milliseconds=150 + rng.randrange(300))
            duration = rng.randrange(5, 30_000)
            roll = rng.random()
            status: str = "Completed"
            result: str | None = "ok\n"
            error: str | None = None
            if run_id > self.total_runs - OPEN_NEWEST:
                status, result = "Running", None
            elif roll < 0.02:
                status, result, error = "Timeout", None, "timed out after 3600s on its last attempt"
            elif roll < 0.10:
                status, result, error = "Failed", None, "exit code 1: boom"
            completed = None if status == "Running" else started + timedelta(milliseconds=duration)
            batch.append(
                (
                    run_id,
                    task_id,
                    f"task-{task_id}-seed-{run_id}",
                    None,
                    "schedule",
                    status,
                    WORKERS[run_id % len(WORKERS)],
                    0,
                    scheduled,
                    started,
                    started,
                    completed,
                    result,
                    error,
                    None if completed is None else duration,
                    definition,
                    scheduled,
                    completed or started,
                )
            )
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


async def seed_tasks(conn: asyncpg.Connection, history: History) -> None:
    await conn.copy_records_to_table(
        "tasks", records=history.task_records(), columns=list(TASK_COLUMNS)
    )
    await conn.execute("SELECT setval(pg_get_serial_sequence('tasks', 'id'), $1)", history.tasks)


async def seed_runs(conn: asyncpg.Connection, history: History, first: int, last: int) -> None:
    for batch in history.runs_in(first, last):
        await conn.copy_records_to_table("task_runs", records=batch, columns=list(RUN_COLUMNS))
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('task_runs', 'id'), $1)", history.total_runs
    )


async def analyze(conn: asyncpg.Connection) -> None:
    """What autovacuum would have done by then: statistics and the visibility map."""
    await conn.execute("VACUUM (ANALYZE) tasks")
    await conn.execute("VACUUM (ANALYZE) task_runs")


def utc_now() -> datetime:
    return datetime.now(UTC)
