"""``?wait=`` on a run and on a trigger, in process: no worker runs, so every run stays open
until the test ends it (tests/test_run_wait.py has runs a real worker finishes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence import runs
from persistence.run_end_listener import APPLICATION_NAME
from tests.conftest import run_admin_sql
from tests.credential_rows import with_sessions
from tests.helpers import Api, assert_error
from tests.in_process import App
from tests.rows import complete_run

# Both backends: Postgres hears a run's end from the database, SQLite asks Temporal.


@contextmanager
def completed_after(app: App, run_id: int, seconds: float) -> Iterator[None]:
    """The run ends Completed in the database ``seconds`` from now, behind Temporal's back."""
    timer = threading.Timer(seconds, complete_run, args=(app, run_id))
    timer.start()
    try:
        yield
    finally:
        timer.join()


def waited_while_it_completes(
    app: App, admin: Api, run_id: int, after: float
) -> tuple[httpx.Response, float]:
    """``GET`` the run with ``wait=30`` while it ends Completed ``after`` seconds from
    now; the answer (checked Completed) and the seconds it took."""
    began = time.monotonic()
    with completed_after(app, run_id, after):
        response = admin.get(f"/api/task-runs/{run_id}", params={"wait": 30})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "Completed"
    return response, time.monotonic() - began


def never_started(app: App, run_id: int) -> None:
    """Point the run at a workflow that does not exist, as one still in the outbox."""

    async def unstarted(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await runs.set_workflow_id(session, run_id, f"never-started-{run_id}")

    with_sessions(app, unstarted)


@pytest.mark.parametrize("value", ["0", "301", "-1", "soon", "1.5"])
def test_wait_outside_1_to_300_seconds_is_refused(admin: Api, value: str) -> None:
    task = admin.create_task()
    run_id = admin.trigger(task["id"])
    for response in (
        admin.get(f"/api/task-runs/{run_id}", params={"wait": value}),
        admin.post(f"/api/tasks/{task['id']}/trigger", params={"wait": value}),
    ):
        error = assert_error(response, 422, "VALIDATION_ERROR")["error"]
        assert error["details"]["field"] == "wait", error


def test_a_wait_that_runs_out_answers_the_open_run(admin: Api) -> None:
    task = admin.create_task()
    began = time.monotonic()
    triggered = admin.post(f"/api/tasks/{task['id']}/trigger", params={"wait": 1})
    assert triggered.status_code == 201, triggered.text
    assert triggered.headers["X-Run-Wait"] == "timeout"
    data = triggered.json()["data"]
    assert data["run"]["id"] == data["task_run_id"]
    assert data["run"]["status"] == "Pending"
    got = admin.get(f"/api/task-runs/{data['task_run_id']}", params={"wait": 1})
    assert got.status_code == 200, got.text
    assert got.headers["X-Run-Wait"] == "timeout"
    assert got.json()["data"]["status"] == "Pending"
    assert 2.0 <= time.monotonic() - began < 6.0


def test_without_wait_the_trigger_answers_as_before(admin: Api) -> None:
    task = admin.create_task()
    response = admin.post(f"/api/tasks/{task['id']}/trigger")
    assert response.status_code == 201, response.text
    assert set(response.json()["data"]) == {"task_run_id", "message"}
    assert "X-Run-Wait" not in response.headers


def test_a_finished_run_is_answered_at_once(app: App, admin: Api) -> None:
    run_id = admin.trigger(admin.create_task()["id"])
    complete_run(app, run_id)
    began = time.monotonic()
    response = admin.get(f"/api/task-runs/{run_id}", params={"wait": 300})
    assert response.status_code == 200, response.text
    assert "X-Run-Wait" not in response.headers
    assert response.json()["data"]["status"] == "Completed"
    assert time.monotonic() - began < 2.0


def test_a_run_whose_workflow_does_not_exist_yet_is_still_waited_for(app: App, admin: Api) -> None:
    # As a trigger whose workflow an outbox has yet to start: Temporal knows no such id.
    run_id = admin.trigger(admin.create_task()["id"])
    never_started(app, run_id)
    response, took = waited_while_it_completes(app, admin, run_id, 0.5)
    assert "X-Run-Wait" not in response.headers
    # Found by the bounded re-read (50 ms, doubling, at most 2 s), not at the deadline.
    assert took < 3.0


def test_waiting_on_an_unknown_run_is_404(admin: Api) -> None:
    response = admin.get("/api/task-runs/999999", params={"wait": 5})
    assert_error(response, 404, "TASK_RUN_NOT_FOUND")


def test_an_end_in_the_database_is_heard_while_the_workflow_is_open(app: App, admin: Api) -> None:
    if app.backend != "postgres":
        pytest.skip("SQLite has no notifications: its waits follow the workflow")
    run_id = admin.trigger(admin.create_task()["id"])  # its workflow stays open: no worker
    response, took = waited_while_it_completes(app, admin, run_id, 0.5)
    assert "X-Run-Wait" not in response.headers
    assert took < 2.0


def cut_the_listener(app: App) -> None:
    assert APPLICATION_NAME == "scheduler-run-end-listener"
    run_admin_sql(
        app.database_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'scheduler-run-end-listener'"
        " AND datname = current_database()",
    )


def test_a_wait_outlives_the_listeners_connection(app: App, admin: Api) -> None:
    if app.backend != "postgres":
        pytest.skip("SQLite has no notifications")
    run_id = admin.trigger(admin.create_task()["id"])
    never_started(app, run_id)
    threading.Timer(0.3, cut_the_listener, args=(app,)).start()
    _, took = waited_while_it_completes(app, admin, run_id, 1.0)
    # The lost connection handed the wait to the bounded re-read, not to its deadline.
    assert took < 5.0
    # Listening again: the next run's end is heard while its workflow is open.
    time.sleep(1.0)
    second = admin.trigger(admin.create_task()["id"])
    _, took = waited_while_it_completes(app, admin, second, 0.5)
    assert took < 2.0
