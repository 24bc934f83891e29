"""``/api/notification-channels``, task subscriptions and a run's deliveries, in process:
validation, write-only secrets, permissions, the channel-in-use rule."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence import notification_store
from persistence.secret_sealing import SecretSealer
from tests.credential_rows import with_sessions
from tests.helpers import Api, assert_error, unique
from tests.in_process import App

CHANNELS = "/api/notification-channels"
SECRET = "whsec-" + uuid.uuid4().hex
TOKEN = "T000/B000/" + uuid.uuid4().hex


def webhook(admin: Api, **config: Any) -> dict[str, Any]:
    body = {
        "name": unique("hook"),
        "type": "webhook",
        "config": {"url": "http://127.0.0.1:9/hook", **config},
    }
    response = admin.post(CHANNELS, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def stored(app: App, channel_id: int) -> dict[str, Any]:
    """The channel's configuration as the orchestrator opens it."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        async with sessions() as session:
            channel = await notification_store.get_channel(session, channel_id)
            assert channel is not None
            return notification_store.stored_config(
                SecretSealer(app.settings.payload_keys), channel
            )

    return with_sessions(app, work)


def test_a_webhook_channel_is_created_read_changed_and_deleted_with_secrets_hidden(
    app: App, admin: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = webhook(admin, secret=SECRET, headers={"Authorization": f"Bearer {SECRET}"})
    assert created["type"] == "webhook" and created["used_by"] == []
    assert created["config"] == {
        "url": "http://127.0.0.1:9/hook",
        "secret": "***",
        "headers": {"Authorization": "***"},
    }
    channel = f"{CHANNELS}/{created['id']}"
    assert admin.get(channel).json()["data"] == created
    listing = admin.get(CHANNELS, params={"page_size": 100}).json()["data"]["items"]
    assert created in listing

    # Written back as shown, the hidden values keep what is stored.
    renamed = admin.patch(channel, json={"name": unique("renamed"), "config": created["config"]})
    assert renamed.status_code == 200, renamed.text
    assert stored(app, created["id"]) == {
        "url": "http://127.0.0.1:9/hook",
        "secret": SECRET,
        "headers": {"Authorization": f"Bearer {SECRET}"},
    }
    admin.patch(channel, json={"config": {**created["config"], "secret": "new-secret"}})
    assert stored(app, created["id"])["secret"] == "new-secret"

    assert admin.delete(channel).status_code == 200
    assert_error(admin.get(channel), 404, "CHANNEL_NOT_FOUND")
    assert_error(admin.patch(channel, json={"name": "x"}), 404, "CHANNEL_NOT_FOUND")
    assert_error(admin.delete(channel), 404, "CHANNEL_NOT_FOUND")
    assert_error(admin.post(f"{channel}/test"), 404, "CHANNEL_NOT_FOUND")
    assert SECRET not in caplog.text and "new-secret" not in caplog.text


def test_a_slack_url_shows_no_token(admin: Api) -> None:
    response = admin.post(
        CHANNELS,
        json={
            "name": unique("slack"),
            "type": "slack",
            "config": {"webhook_url": f"http://127.0.0.1:9/services/{TOKEN}"},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["config"] == {"webhook_url": "http://127.0.0.1:9/services/***"}
    assert TOKEN not in response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "webhook", "config": {"url": "ftp://127.0.0.1/x"}}, "config.url"),
        ({"type": "webhook", "config": {"url": "http://169.254.169.254/"}}, "config.url"),
        ({"type": "webhook", "config": {"url": "http://[fe80::1]/"}}, "config.url"),
        ({"type": "webhook", "config": {}}, "config.url"),
        ({"type": "webhook", "config": {"url": "http://127.0.0.1/", "x": 1}}, "config.x"),
        ({"type": "webhook", "config": {"url": "http://127.0.0.1/", "secret": 5}}, "config.secret"),
        (
            {"type": "webhook", "config": {"url": "http://127.0.0.1/", "headers": {"Host": "a"}}},
            "config.headers.Host",
        ),
        ({"type": "slack", "config": {"url": "http://127.0.0.1/"}}, "config.url"),
        ({"type": "email", "config": {"to": ["ops@example.com"]}}, "type"),
    ],
)
def test_bad_channels_are_refused_naming_the_field(
    admin: Api, body: dict[str, Any], field: str
) -> None:
    error = assert_error(
        admin.post(CHANNELS, json={"name": unique("bad"), **body}), 422, "VALIDATION_ERROR"
    )
    assert error["error"]["details"]["field"] == field


def test_other_bad_channel_requests(admin: Api) -> None:
    created = webhook(admin)
    assert_error(
        admin.post(CHANNELS, json={"name": created["name"], **{"type": "webhook"}, "config": {}}),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(
        admin.post(
            CHANNELS,
            json={"name": created["name"], "type": "webhook", "config": {"url": "http://a.b/"}},
        ),
        409,
        "DUPLICATE_CHANNEL_NAME",
    )
    assert_error(admin.post(CHANNELS, json={"name": "x", "type": "pager"}), 422, "VALIDATION_ERROR")
    assert_error(
        admin.patch(f"{CHANNELS}/{created['id']}", json={"type": "slack"}), 422, "VALIDATION_ERROR"
    )


def test_reading_needs_system_read_and_writing_system_write(
    admin: Api, operator: Api, viewer: Api, anonymous: Api
) -> None:
    created = webhook(admin)
    channel = f"{CHANNELS}/{created['id']}"
    body = {"name": unique("hook"), "type": "webhook", "config": {"url": "http://a.example/"}}
    for reader in (operator, viewer):
        assert reader.get(CHANNELS).status_code == 200
        assert reader.get(channel).status_code == 200
        assert_error(reader.post(CHANNELS, json=body), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(reader.patch(channel, json={"name": "x"}), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(reader.delete(channel), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(reader.post(f"{channel}/test"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(anonymous.get(CHANNELS), 401, "AUTHENTICATION_REQUIRED")
    key = admin.post(
        "/api/auth/api-keys", json={"name": unique("notify-key"), "permissions": ["SystemWrite"]}
    ).json()["data"]["api_key"]
    with_key = Api(admin.http, token=key)
    assert with_key.post(CHANNELS, json=body).status_code == 201
    assert_error(with_key.get(CHANNELS), 403, "INSUFFICIENT_PERMISSIONS")


def test_tasks_subscribe_to_channels_that_exist_and_a_used_channel_stays(admin: Api) -> None:
    channel = webhook(admin)
    unknown = channel["id"] + 10_000
    error = assert_error(
        admin.post(
            "/api/tasks",
            json={
                "name": unique("notified"),
                "task_type": "shell",
                "schedule": "0 0 1 1 *",
                "parameters": {"command": "true"},
                "notifications": [{"channel_id": unknown, "on": ["failure"]}],
            },
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert error["error"]["details"]["field"] == "notifications[0].channel_id"

    task = admin.create_task(
        notifications=[{"channel_id": channel["id"], "on": ["success", "failure", "failure"]}],
        late_after_seconds=120,
        pause_after_failures=3,
    )
    assert task["notifications"] == [{"channel_id": channel["id"], "on": ["failure", "success"]}]
    assert (task["late_after_seconds"], task["pause_after_failures"]) == (120, 3)
    assert task["paused_reason"] is None
    detail = admin.get(f"/api/tasks/{task['id']}").json()["data"]
    assert detail["notifications"] == task["notifications"]
    used = admin.get(f"{CHANNELS}/{channel['id']}").json()["data"]["used_by"]
    assert used == [{"id": task["id"], "name": task["name"]}]

    in_use = assert_error(admin.delete(f"{CHANNELS}/{channel['id']}"), 409, "CHANNEL_IN_USE")
    assert in_use["error"]["details"]["used_by"] == used

    patched = admin.patch(f"/api/tasks/{task['id']}", json={"pause_after_failures": None})
    assert patched.json()["data"]["pause_after_failures"] is None
    assert patched.json()["data"]["notifications"] == task["notifications"]
    # PUT without them resets them.
    replaced = admin.put(
        f"/api/tasks/{task['id']}",
        json={k: task[k] for k in ("name", "task_type", "schedule", "parameters")},
    )
    assert replaced.json()["data"]["notifications"] == []
    assert replaced.json()["data"]["late_after_seconds"] is None
    assert admin.delete(f"{CHANNELS}/{channel['id']}").status_code == 200


@pytest.mark.parametrize(
    "fields",
    [
        {"pause_after_failures": 0},
        {"pause_after_failures": 101},
        {"late_after_seconds": 0},
        {"notifications": [{"channel_id": 1, "on": []}]},
        {"notifications": [{"channel_id": 1, "on": ["test"]}]},
        {"notifications": [{"channel_id": 1, "on": ["failure"], "extra": 1}]},
    ],
)
def test_bad_notification_fields_are_refused(admin: Api, fields: dict[str, Any]) -> None:
    body = {
        "name": unique("bad-notify"),
        "task_type": "shell",
        "schedule": "0 0 1 1 *",
        "parameters": {"command": "true"},
        **fields,
    }
    assert_error(admin.post("/api/tasks", json=body), 422, "VALIDATION_ERROR")


def test_a_channel_listed_twice_is_refused(admin: Api) -> None:
    channel = webhook(admin)
    twice = [{"channel_id": channel["id"], "on": ["failure"]}] * 2
    error = assert_error(
        admin.post(
            "/api/tasks",
            json={
                "name": unique("twice"),
                "task_type": "shell",
                "schedule": "0 0 1 1 *",
                "parameters": {"command": "true"},
                "notifications": twice,
            },
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert error["error"]["details"]["field"] == "notifications[1].channel_id"


def test_a_runs_notifications_need_task_read_and_a_run(admin: Api, viewer: Api) -> None:
    task = admin.create_task()
    run_id = admin.trigger(task["id"])
    response = viewer.get(f"/api/task-runs/{run_id}/notifications")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
    assert_error(viewer.get("/api/task-runs/987654321/notifications"), 404, "TASK_RUN_NOT_FOUND")


pytestmark = pytest.mark.one_backend
