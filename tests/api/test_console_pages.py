"""The console's pages in this process: what they show, what their forms do, what they refuse."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.console.pages.run import still_live
from api.notifications.schemas import DeliveryOut
from api.tasks.schemas import RunOut
from persistence.models import NotificationDelivery
from tests.api.console_client import csrf_of, signed_in
from tests.credential_rows import with_sessions
from tests.helpers import Api, unique
from tests.in_process import App
from tests.rows import complete_run

pytestmark = pytest.mark.one_backend  # pages over the API's own services: no SQL of their own


def test_the_task_list_shows_every_column_and_keeps_filters_in_its_links(
    app: App, admin: Api
) -> None:
    prefix = unique("listed")
    created = [admin.create_task(name=f"{prefix}-{n}", schedule="0 9 * * 1-5") for n in range(3)]
    run_id = admin.trigger(created[0]["id"])
    with signed_in(app.client, "viewer") as client:
        page = client.get(f"/ui/tasks?name={prefix}&page_size=20&status=Active")
    assert page.status_code == 200
    assert page.text.count('data-task-id="') == 3
    assert "At 09:00, Monday through Friday (UTC)" in page.text
    assert 'title="0 9 * * 1-5"' in page.text
    assert f'href="/ui/runs/{run_id}"' in page.text  # last run badge and strip tick
    assert 'class="strip"' in page.text
    assert f'data-poll="/ui/tasks/rows?status=Active&amp;name={prefix}"' in page.text
    assert 'value="Active" selected' in page.text


def test_the_task_list_pages_on_the_server(app: App, admin: Api) -> None:
    prefix = unique("paged")
    for n in range(3):
        admin.create_task(name=f"{prefix}-{n}")
    with signed_in(app.client, "viewer") as client:
        second = client.get(f"/ui/tasks?name={prefix}&page_size=2&page=2")
        rows = client.get(f"/ui/tasks/rows?name={prefix}&page_size=2&page=2")
    assert second.text.count('data-task-id="') == 1
    assert "3 in all · page 2 of 2" in second.text
    assert 'href="/ui/tasks?name=' in second.text
    assert rows.text.count('data-task-id="') == 1
    assert "<html" not in rows.text  # a fragment: no layout


def test_user_controlled_text_is_escaped(app: App, admin: Api) -> None:
    name = f"<img src=x onerror=alert(1)> {unique('xss')}"
    task = admin.create_task(name=name, parameters={"command": "echo '<script>alert(2)</script>'"})
    with signed_in(app.client, "viewer") as client:
        listed = client.get("/ui/tasks?name=onerror")
        detail = client.get(f"/ui/tasks/{task['id']}")
    for page in (listed, detail):
        assert "<img src=x" not in page.text
        assert str(escape(name)) in page.text
    assert "<script>alert(2)" not in detail.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in detail.text


def test_a_viewer_sees_no_write_buttons_and_is_refused_anyway(app: App, admin: Api) -> None:
    task = admin.create_task()
    with signed_in(app.client, "viewer") as client:
        page = client.get(f"/ui/tasks/{task['id']}")
        assert page.status_code == 200
        for control in ("Run now", "Pause", "Backfill", "Edit", "Delete"):
            assert f">{control}<" not in page.text, control
        refused = client.post(f"/ui/tasks/{task['id']}/run", data={"csrf_token": csrf_of(page)})
        assert refused.status_code == 403
        assert "TaskWrite" in refused.text
        assert client.get("/ui/tasks/new").status_code == 403
    assert admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]["total"] == 0


def test_run_now_pause_and_resume_through_the_forms(app: App, admin: Api) -> None:
    task = admin.create_task()
    with signed_in(app.client, "operator") as client:
        page = client.get(f"/ui/tasks/{task['id']}")
        token = csrf_of(page)
        forged = client.post(f"/ui/tasks/{task['id']}/run", data={}, follow_redirects=False)
        assert forged.status_code == 403
        ran = client.post(
            f"/ui/tasks/{task['id']}/run", data={"csrf_token": token}, follow_redirects=False
        )
        assert ran.status_code == 303
        run_id = int(ran.headers["location"].rsplit("/", 1)[1])
        run_page = client.get(ran.headers["location"])
        assert run_page.status_code == 200
        assert f"Run #{run_id}" in run_page.text
        assert 'data-poll="/ui/runs/' in run_page.text  # open: it refreshes itself
        paused = client.post(f"/ui/tasks/{task['id']}/pause", data={"csrf_token": token})
        assert "Paused" in paused.text
        assert ">Resume<" in paused.text
        assert admin.get(f"/api/tasks/{task['id']}").json()["data"]["status"] == "Inactive"
        client.post(f"/ui/tasks/{task['id']}/resume", data={"csrf_token": token})
    detail = admin.get(f"/api/tasks/{task['id']}").json()["data"]
    assert detail["status"] == "Active"
    assert [c["changed_by"] for c in detail["status_history"][:2]] == ["operator", "operator"]
    assert admin.run(run_id)["triggered_by"] == "operator"


def test_the_create_form_shows_the_apis_message_then_creates(app: App, admin: Api) -> None:
    name = unique("formed")
    fields = {
        "name": name,
        "task_type": "shell",
        "schedule": "61 * * * *",
        "timezone": "",
        "status": "Active",
        "command": "echo from the form",
        "parameters": "{}",
        "timeout_seconds": "60",
        "max_retries": "1",
        "dependencies": "",
        "dependency_timeout_seconds": "",
        "overlap_policy": "skip",
        "catchup_window_seconds": "",
        "jitter_seconds": "0",
        "dst_policy": "cron",
    }
    with signed_in(app.client, "operator") as client:
        token = csrf_of(client.get("/ui/tasks/new"))
        bad = client.post("/ui/tasks/new", data={**fields, "csrf_token": token})
        assert bad.status_code == 422
        api = admin.post(
            "/api/tasks",
            json={
                "name": name,
                "task_type": "shell",
                "schedule": "61 * * * *",
                "parameters": {"command": "x"},
            },
        ).json()["error"]["message"]
        assert str(escape(api)) in bad.text
        assert 'class="mono invalid"' in bad.text
        assert "echo from the form" in bad.text  # what was typed stays
        typed = client.post(
            "/ui/tasks/new", data={**fields, "timeout_seconds": "soon", "csrf_token": token}
        )
        assert typed.status_code == 422
        assert "timeout_seconds" in typed.text
        made = client.post(
            "/ui/tasks/new",
            data={**fields, "schedule": "*/5 * * * *", "csrf_token": token},
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
        task_id = int(re.search(r"/ui/tasks/(\d+)", made.headers["location"]).group(1))  # type: ignore[union-attr]
    task = admin.get(f"/api/tasks/{task_id}").json()["data"]
    assert task["parameters"] == {"command": "echo from the form"}
    assert (task["timeout_seconds"], task["max_retries"]) == (60, 1)


def test_the_edit_form_saves_and_the_preview_follows_the_typing(app: App, admin: Api) -> None:
    channel = admin.post(
        "/api/notification-channels",
        json={"name": unique("hook"), "type": "webhook", "config": {"url": "http://127.0.0.1:9/"}},
    ).json()["data"]
    subscriptions = [{"channel_id": channel["id"], "on": ["failure"]}]
    task = admin.create_task(
        parameters={"command": "echo before"}, notifications=subscriptions, late_after_seconds=90
    )
    with signed_in(app.client, "operator") as client:
        form = client.get(f"/ui/tasks/{task['id']}/edit")
        assert "echo before" in form.text
        fields = dict(re.findall(r'<input name="(\w+)" value="([^"]*)"', form.text))
        preview = client.get(
            "/ui/schedule-preview?schedule=30+2+*+*+*&timezone=America/New_York&dst_policy=cron"
        )
        assert preview.status_code == 200
        assert preview.text.count("<li>") == 5
        wrong = client.get("/ui/schedule-preview?schedule=every+day")
        assert "Invalid schedule" in wrong.text
        saved = client.post(
            f"/ui/tasks/{task['id']}/edit",
            data={
                **fields,
                "task_type": "shell",
                "status": "Active",
                "command": "echo after",
                "parameters": "{}",
                "overlap_policy": "skip",
                "dst_policy": "cron",
                "csrf_token": csrf_of(form),
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text
    saved_task = admin.get(f"/api/tasks/{task['id']}").json()["data"]
    assert saved_task["parameters"] == {"command": "echo after"}
    # What the form does not show is kept: an edit is a patch of the form's fields.
    assert saved_task["notifications"] == subscriptions
    assert saved_task["late_after_seconds"] == 90


def test_delete_names_the_dependents_that_block_it(app: App, admin: Api) -> None:
    upstream = admin.create_task()
    downstream = admin.create_task(dependencies=[upstream["id"]])
    with signed_in(app.client, "admin") as client:
        blocked = client.get(f"/ui/tasks/{upstream['id']}/delete")
        assert "cannot be deleted" in blocked.text
        assert f'href="/ui/tasks/{downstream["id"]}"' in blocked.text
        assert str(escape(downstream["name"])) in blocked.text
        confirm = client.get(f"/ui/tasks/{downstream['id']}/delete")
        gone = client.post(
            f"/ui/tasks/{downstream['id']}/delete",
            data={"csrf_token": csrf_of(confirm)},
            follow_redirects=False,
        )
        assert gone.status_code == 303
    assert admin.get(f"/api/tasks/{downstream['id']}").status_code == 404


def test_the_backfill_form_counts_the_fires_of_its_range(app: App, admin: Api) -> None:
    task = admin.create_task(schedule="0 * * * *")
    with signed_in(app.client, "operator") as client:
        counted = client.get(
            f"/ui/tasks/{task['id']}/backfill?start=2026-01-01T00:00&end=2026-01-01T05:00"
        )
        assert counted.status_code == 200
        assert "<strong>6</strong> fire times" in counted.text
        backwards = client.get(
            f"/ui/tasks/{task['id']}/backfill?start=2026-01-02T00:00&end=2026-01-01T00:00"
        )
        assert backwards.status_code == 422
        assert "must be later than start" in backwards.text


def test_unknown_ids_are_pages_not_json(app: App) -> None:
    with signed_in(app.client, "viewer") as client:
        missing = client.get("/ui/tasks/987654321")
        run = client.get("/ui/runs/987654321")
        nowhere = client.get("/ui/no-such-page")
        wrong_method = client.delete("/ui/tasks")
    for answer, status in ((nowhere, 404), (wrong_method, 405)):
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("text/html"), answer.text
        assert "Back to tasks" in answer.text
    assert app.client.get("/api/no-such-route").json()["error"]["code"] == "NOT_FOUND"
    assert missing.status_code == 404
    assert "Task with ID 987654321 not found" in missing.text
    assert run.status_code == 404
    assert "<html" in run.text


def test_an_open_run_is_live_and_cancellable_a_finished_one_is_not(app: App, admin: Api) -> None:
    task = admin.create_task()
    run_id = admin.trigger(task["id"])  # no worker here: it stays open
    with signed_in(app.client, "viewer") as client:
        watched = client.get(f"/ui/runs/{run_id}")
    assert f'data-poll="/ui/runs/{run_id}/live"' in watched.text
    assert "Cancel run" not in watched.text
    with signed_in(app.client, "operator") as client:
        page = client.get(f"/ui/runs/{run_id}")
        assert "Cancel run" in page.text
        cancelled = client.post(
            f"/ui/runs/{run_id}/cancel",
            data={"csrf_token": csrf_of(page)},
            follow_redirects=False,
        )
        assert cancelled.status_code == 303
        assert cancelled.headers["location"] == f"/ui/runs/{run_id}"
        complete_run(app, run_id, output="<b>all</b> [... 12 bytes cut ...] done\n")
        live = client.get(f"/ui/runs/{run_id}/live", headers={"X-Console-Poll": "1"})
    assert live.status_code == 200
    assert "Cancel run" not in live.text
    assert "&lt;b&gt;all&lt;/b&gt; [... 12 bytes cut ...] done" in live.text
    assert '<span class="badge completed">Completed</span>' in live.text


def test_the_run_page_lists_the_notifications_sent_for_the_run(app: App, admin: Api) -> None:
    task = admin.create_task()
    run_id = admin.trigger(task["id"])
    complete_run(app, run_id)
    now = datetime.now(UTC)

    async def deliveries(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            for name, delivered, gave_up, error in (
                ("<ops> hook", now, None, None),
                ("mail", None, now, "550 mailbox unavailable"),
            ):
                session.add(
                    NotificationDelivery(
                        event_id=f"run-{run_id}-success-{name}",
                        event="success",
                        task_id=task["id"],
                        task_run_id=run_id,
                        channel_id=None,
                        channel_type="webhook",
                        channel_name=name,
                        body={},
                        attempts=3,
                        last_status=550 if error else 200,
                        last_error=error,
                        delivered_at=delivered,
                        gave_up_at=gave_up,
                    )
                )

    with_sessions(app, deliveries)
    with signed_in(app.client, "viewer") as client:
        page = client.get(f"/ui/runs/{run_id}")
    section = page.text[page.text.index('id="run-notifications"') :]
    assert "&lt;ops&gt; hook" in section
    assert '<span class="badge completed">delivered</span>' in section
    assert '<span class="badge failed">gave up</span>' in section
    assert "550 mailbox unavailable" in section


def test_a_run_page_stops_refreshing_once_its_end_is_told() -> None:
    now = datetime.now(UTC)

    def run(status: str, ended: datetime | None) -> RunOut:
        return RunOut(
            id=1, task_id=1, status=status, worker_id=None, retry_count=0, scheduled_at=now,
            dispatched_at=None, started_at=None, completed_at=ended, result=None,
            error_message=None, execution_duration_ms=None, created_at=now, trigger="manual",
            triggered_by=None, workflow_id="w", temporal_run_id=None, temporal_ui_url=None,
        )  # fmt: skip

    def delivery(delivered: datetime | None) -> DeliveryOut:
        return DeliveryOut(
            id=1, event="success", event_id="e", channel_id=1, channel_name="c",
            channel_type="webhook", attempts=1, last_status=None, last_error=None,
            delivered_at=delivered, gave_up_at=None, created_at=now,
        )  # fmt: skip

    long_ago = now - timedelta(minutes=5)
    assert still_live(run("Running", None), [], now)
    assert still_live(run("Completed", now - timedelta(seconds=5)), [], now)  # its news is due
    assert still_live(run("Completed", long_ago), [delivery(None)], now)  # still being tried
    assert not still_live(run("Completed", long_ago), [delivery(long_ago)], now)
    assert not still_live(run("Failed", long_ago), [], now)
