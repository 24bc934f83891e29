"""Who started a run: ``trigger`` and ``triggered_by`` on every run, and the filter on them."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from tests.conftest import Stack
from tests.helpers import Api, assert_error, eventually, unique


def _fire_now(stack: Stack, task_id: int) -> None:
    """A schedule fire without waiting for the minute: the schedule's own action runs."""

    async def fire() -> None:
        client = await Client.connect(stack.temporal_address)
        await client.get_schedule_handle(f"task-{task_id}").trigger()

    asyncio.run(fire())


def _key(admin: Api, stack: Stack, name: str) -> Api:
    response = admin.post(
        "/api/auth/api-keys", json={"name": name, "permissions": ["TaskRead", "TaskWrite"]}
    )
    assert response.status_code == 201, response.text
    api = Api(stack.base_url)
    api.token = response.json()["data"]["api_key"]
    return api


def _runs(api: Api, task_id: int, **params: str) -> list[dict[str, object]]:
    response = api.get(f"/api/tasks/{task_id}/runs", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["data"]["items"]
    return items


def test_runs_say_what_started_them_and_who(stack: Stack, admin: Api) -> None:
    task = admin.create_task(parameters={"command": "true"})
    by_user = admin.wait_for_run(admin.trigger(task["id"]))
    assert (by_user["trigger"], by_user["triggered_by"]) == ("manual", "admin")

    key_name = unique("deploy-bot")
    bot = _key(admin, stack, key_name)
    try:
        by_key = admin.wait_for_run(bot.trigger(task["id"]))
    finally:
        bot.close()
    assert (by_key["trigger"], by_key["triggered_by"]) == ("manual", key_name)

    _fire_now(stack, task["id"])
    fired = eventually(lambda: _runs(admin, task["id"], trigger="schedule"), timeout=30)
    assert len(fired) == 1
    assert fired[0]["triggered_by"] is None

    manual = _runs(admin, task["id"], trigger="manual")
    assert {run["id"] for run in manual} == {by_user["id"], by_key["id"]}
    assert _runs(admin, task["id"], trigger="backfill") == []
    # The filters combine.
    assert len(_runs(admin, task["id"], trigger="manual", status="Completed")) == 2


def test_an_unknown_trigger_filter_is_refused(admin: Api) -> None:
    task = admin.create_task()
    response = admin.get(f"/api/tasks/{task['id']}/runs", params={"trigger": "cron"})
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert "trigger" in str(body["error"])
