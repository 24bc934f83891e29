"""The console's Workers and System pages, in process: what they show and how they refresh."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence.models import Task, TaskRun, Worker
from tests.api.console_client import signed_in
from tests.credential_rows import with_sessions
from tests.in_process import App
from tests.rows import add_workers, remove_workers

pytestmark = pytest.mark.one_backend  # pages over queries tested on both backends elsewhere

INLINE = re.compile(r"<script>|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_workers_page_shows_each_worker_with_load_heartbeat_and_recent_runs(app: App) -> None:
    alive, down = add_workers(app, ["Alive", "Down"])
    hostile = "<script>alert(3)</script>"

    async def prepare(sessions: async_sessionmaker[AsyncSession]) -> None:
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            await session.execute(
                update(Worker)
                .where(Worker.id == alive)
                .values(hostname=hostile, max_concurrent_tasks=4, current_task_count=3)
            )
            task = Task(
                name=f"worker-page-{uuid.uuid4().hex[:6]}",
                task_type="shell",
                schedule="0 0 1 1 *",
                parameters={"command": "true"},
                timeout_seconds=60,
                max_retries=0,
                status="Inactive",
            )
            session.add(task)
            await session.flush()
            session.add_all(
                TaskRun(
                    task_id=task.id,
                    workflow_id=f"worker-page-{uuid.uuid4().hex}",
                    trigger="manual",
                    status="Completed",
                    worker_id=alive,
                    scheduled_at=now,
                    completed_at=now - timedelta(hours=hours_ago),
                    definition={"dependencies": []},
                )
                for hours_ago in (1, 2, 30)  # the last is older than 24 hours
            )

    with_sessions(app, prepare)
    try:
        with signed_in(app.client, "viewer") as client:
            page = client.get("/ui/workers?status=Alive")
            assert page.status_code == 200
            assert not INLINE.search(page.text)
            row = page.text.split(f'data-worker-id="{alive}"', 1)[1].split("</tr>", 1)[0]
            assert "&lt;script&gt;alert(3)&lt;/script&gt;" in row
            assert 'value="75.0" max="100"' in row
            assert "3 of 4 slots" in row
            assert '<td class="num">2</td>' in row
            assert "shell" in row
            assert f'data-worker-id="{down}"' not in page.text  # the filter holds
            assert 'data-poll="/ui/workers/fragment?status=Alive"' in page.text

            everyone = client.get("/ui/workers/fragment")
            assert everyone.status_code == 200
            assert everyone.text.lstrip().startswith('<div id="workers-live" data-poll=')
            assert f'data-worker-id="{down}"' in everyone.text
            assert "<html" not in everyone.text
    finally:
        remove_workers(app, [alive, down])


def _runs(app: App, *rows: TaskRun) -> int:
    task_id: list[int] = []

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            task = Task(
                name=f"system-page-{uuid.uuid4().hex[:6]}",
                task_type="shell",
                schedule="* * * * *",
                parameters={"command": "true"},
                timeout_seconds=60,
                max_retries=0,
                status="Inactive",
            )
            session.add(task)
            await session.flush()
            for row in rows:
                row.task_id = task.id
            session.add_all(rows)
            task_id.append(task.id)

    with_sessions(app, work)
    return task_id[0]


def _delete_task(app: App, task_id: int) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await session.execute(delete(TaskRun).where(TaskRun.task_id == task_id))
            await session.execute(delete(Task).where(Task.id == task_id))

    with_sessions(app, work)


BAR = re.compile(r'<g class="bar">(.*?)</g>', re.DOTALL)
SEGMENT = re.compile(r'data-status="(\w+)" data-count="(\d+)"')
LAG_POINT = re.compile(r'data-series="(p50|p99)"><title>[^<]* over (\d+) scheduled starts</title>')


def current_hour(page: str) -> tuple[dict[str, int], dict[str, int]]:
    """The last bar's counts by status and the last lag points' start counts, from the SVG."""
    bars = BAR.findall(page.split('id="runs-per-hour"', 1)[1])
    finished = {status: int(n) for status, n in SEGMENT.findall(bars[-1])} if bars else {}
    return finished, {series: int(n) for series, n in LAG_POINT.findall(page)}


def an_hour_with_time_left(seconds: float) -> datetime:
    """Now, with at least ``seconds`` left before the hour turns (waiting for the next
    hour otherwise), so that what a test reads twice falls in the same hour's bar."""
    now = datetime.now(UTC)
    turn = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if (turn - now).total_seconds() < seconds:
        time.sleep((turn - now).total_seconds() + 0.1)
        now = datetime.now(UTC)
    return now


def test_system_page_shows_health_figures_and_the_last_24_hours(app: App) -> None:
    # Other tests share this app's database: compare the current hour before and after.
    now = an_hour_with_time_left(30)
    with signed_in(app.client, "viewer") as client:
        before, lag_before = current_hour(client.get("/ui/system").text)
    # A minute ago, but never in the hour before.
    fire = max(now - timedelta(minutes=1), now.replace(minute=0, second=0, microsecond=0))

    def run(status: str, lag: float) -> TaskRun:
        return TaskRun(
            workflow_id=f"system-page-{uuid.uuid4().hex}",
            trigger="schedule",
            status=status,
            scheduled_at=fire,
            started_at=fire + timedelta(seconds=lag),
            completed_at=fire + timedelta(seconds=lag + 1),
            definition={"dependencies": []},
        )

    task_id = _runs(app, run("Completed", 0.2), run("Completed", 0.3), run("Failed", 4))
    try:
        with signed_in(app.client, "viewer") as client:
            page = client.get("/ui/system")
            assert page.status_code == 200
            assert not INLINE.search(page.text)
            health = page.text.split('id="system-health"', 1)[1].split("</section>", 1)[0]
            assert health.count('class="badge connected"') == 2  # database and Temporal
            assert 'class="badge healthy"' in health
            stats = page.text.split('id="system-stats"', 1)[1].split("</section>", 1)[0]
            assert re.search(r"<dt>Completed today</dt><dd>\d+</dd>", stats)
            finished, lag = current_hour(page.text)
            assert finished.get("Completed", 0) == before.get("Completed", 0) + 2
            assert finished.get("Failed", 0) == before.get("Failed", 0) + 1
            assert lag == {
                "p50": lag_before.get("p50", 0) + 3,
                "p99": lag_before.get("p99", 0) + 3,
            }

            live = client.get("/ui/system/fragment")
            assert live.status_code == 200
            assert live.text.lstrip().startswith('<div id="system-live" data-poll=')
            assert current_hour(live.text)[0] == finished
    finally:
        _delete_task(app, task_id)


def test_monitoring_pages_need_a_session(app: App) -> None:
    app.client.cookies.clear()
    for path in ("/ui/workers", "/ui/system", "/ui/system/fragment"):
        answer = app.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/ui/login?next=")


def test_the_navigation_lists_both_pages(app: App) -> None:
    with signed_in(app.client, "viewer") as client:
        page = client.get("/ui/tasks")
    assert '<a href="/ui/workers"' in page.text
    assert '<a href="/ui/system"' in page.text
