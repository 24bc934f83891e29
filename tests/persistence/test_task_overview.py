"""The console's task list read: each task's newest runs and 7-day tally, in statements per page
that do not grow with the page (no query per task), on both backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, insert

from api.pagination import PageRequest
from api.tasks.overview import STRIP_RUNS, TaskOverviews
from persistence.database import create_engine, create_sessionmaker
from persistence.models import Task, TaskRun
from tests.persistence.conftest import Database, new_task


def _run(task_id: int, status: str, at: datetime) -> dict[str, Any]:
    finished = status in ("Completed", "Failed", "Timeout")
    return {
        "task_id": task_id,
        "workflow_id": f"overview-{uuid.uuid4().hex}",
        "trigger": "manual",
        "status": status,
        "retry_count": 0,
        "scheduled_at": at,
        "definition": {"dependencies": []},
        "created_at": at,
        "updated_at": at,
        "completed_at": at + timedelta(seconds=2) if finished else None,
        "execution_duration_ms": 2000 if finished else None,
    }


def selects(statements: list[str]) -> list[str]:
    """The queries among ``statements`` (SQLite's ``BEGIN`` is not one)."""
    return [text for text in statements if text.lstrip().upper().startswith("SELECT")]


def test_a_page_reads_every_tasks_runs_in_the_same_statements(db: Database) -> None:
    async def scenario() -> None:
        engine = create_engine(db.database_url)
        sessions = create_sessionmaker(engine)
        prefix = f"overview-{uuid.uuid4().hex[:6]}"
        made: list[int] = []
        try:
            busy, idle, old = made = [await new_task(sessions, prefix=prefix) for _ in range(3)]
            now = datetime.now(UTC)
            rows = [
                _run(busy, "Failed" if n % 5 == 0 else "Completed", now - timedelta(minutes=30 - n))
                for n in range(25)
            ]
            rows.append(_run(busy, "Running", now))
            rows.append(_run(old, "Completed", now - timedelta(days=8)))
            rows.append(_run(old, "Failed", now - timedelta(days=1)))
            async with sessions() as session, session.begin():
                await session.execute(insert(TaskRun), rows)

            statements: list[str] = []
            event.listen(
                engine.sync_engine,
                "before_cursor_execute",
                lambda *args: statements.append(str(args[2])),
            )
            overviews = TaskOverviews(sessions)
            page = await overviews.page(PageRequest(1, 100), None, prefix, None)
            per_page = len(selects(statements))
            statements.clear()
            await overviews.page(PageRequest(1, 1), None, prefix, None)
            assert len(selects(statements)) == per_page == 4, statements

            lines = {line.task.id: line for line in page.items}
            assert page.total == 3
            strip = lines[busy].recent_runs
            assert len(strip) == STRIP_RUNS
            assert [run.id for run in strip] == sorted((run.id for run in strip), reverse=True)
            assert strip[0].status == "Running"
            assert lines[busy].last_run is strip[0]
            # 25 finished in the week, every fifth of them failed.
            assert (lines[busy].week.succeeded, lines[busy].week.finished) == (20, 25)
            assert lines[busy].week.rate == 80.0
            assert lines[idle].recent_runs == [] and lines[idle].week.rate is None
            # The run of 8 days ago is in the strip, not in the week.
            assert len(lines[old].recent_runs) == 2
            assert (lines[old].week.succeeded, lines[old].week.finished) == (0, 1)
        finally:
            # The session's database is shared: leave no run or task behind.
            async with sessions() as session, session.begin():
                await session.execute(delete(TaskRun).where(TaskRun.task_id.in_(made)))
                await session.execute(delete(Task).where(Task.id.in_(made)))
            await engine.dispose()

    asyncio.run(scenario())
