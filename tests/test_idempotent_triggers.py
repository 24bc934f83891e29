"""``Idempotency-Key`` on ``POST /api/tasks/{id}/trigger``: one run per key, however often sent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence.models import TriggerIdempotencyKey
from tests.conftest import Stack
from tests.credential_rows import with_sessions
from tests.helpers import Api, assert_error


def _trigger(api: Api, task_id: int, key: str) -> httpx.Response:
    return api.post(f"/api/tasks/{task_id}/trigger", headers={"Idempotency-Key": key})


def _total_runs(api: Api, task_id: int) -> int:
    total: int = api.get(f"/api/tasks/{task_id}/runs").json()["data"]["total"]
    return total


def test_the_same_key_answers_the_first_run_and_starts_nothing(admin: Api) -> None:
    task = admin.create_task(parameters={"command": "true"})
    key = f"deploy-{uuid.uuid4()}"
    first = _trigger(admin, task["id"], key)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    run_id = first.json()["data"]["task_run_id"]
    admin.wait_for_run(run_id)

    again = _trigger(admin, task["id"], key)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["success"] is True
    assert again.json()["data"]["task_run_id"] == run_id
    assert _total_runs(admin, task["id"]) == 1

    # Another key, or none, is another run.
    assert _trigger(admin, task["id"], f"other-{uuid.uuid4()}").status_code == 201
    assert admin.post(f"/api/tasks/{task['id']}/trigger").status_code == 201
    assert _total_runs(admin, task["id"]) == 3


def test_the_same_key_on_another_task_is_a_conflict(admin: Api) -> None:
    first, second = admin.create_task(), admin.create_task()
    key = uuid.uuid4().hex
    assert _trigger(admin, first["id"], key).status_code == 201
    body = assert_error(_trigger(admin, second["id"], key), 409, "IDEMPOTENCY_KEY_REUSED")
    assert body["error"]["details"]["task_id"] == first["id"]
    assert _total_runs(admin, second["id"]) == 0


@pytest.mark.parametrize(
    "key",
    ["", "has space", "tab\there", "x" * 256, "caf\u00e9"],
    ids=["empty", "space", "tab", "too-long", "non-ascii"],
)
def test_keys_outside_visible_ascii_are_refused(admin: Api, key: str) -> None:
    task = admin.create_task()
    response = admin.post(
        f"/api/tasks/{task['id']}/trigger",
        headers={"Idempotency-Key": key.encode()},
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert _total_runs(admin, task["id"]) == 0


def test_the_longest_key_and_every_visible_character_are_accepted(admin: Api) -> None:
    task = admin.create_task()
    visible = "".join(chr(c) for c in range(0x21, 0x7F))
    for key in (visible + "k" * (255 - len(visible)), "!"):
        assert _trigger(admin, task["id"], key).status_code == 201


def test_a_key_older_than_24_hours_starts_a_new_run(stack: Stack, admin: Api) -> None:
    task = admin.create_task()
    key = uuid.uuid4().hex
    first = _trigger(admin, task["id"], key).json()["data"]["task_run_id"]

    async def age(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await session.execute(
                update(TriggerIdempotencyKey)
                .where(TriggerIdempotencyKey.key == key)
                .values(created_at=datetime.now(UTC) - timedelta(hours=24, seconds=1))
            )

    with_sessions(stack, age)
    later = _trigger(admin, task["id"], key)
    assert later.status_code == 201, later.text
    second = later.json()["data"]["task_run_id"]
    assert second != first
    # The key now names the new run.
    assert _trigger(admin, task["id"], key).json()["data"]["task_run_id"] == second


def test_fifty_concurrent_requests_with_one_key_make_exactly_one_run(
    stack: Stack, admin: Api
) -> None:
    task = admin.create_task(parameters={"command": "true"})
    key = uuid.uuid4().hex

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=stack.base_url,
            headers={"Authorization": f"Bearer {admin.token}", "Idempotency-Key": key},
            timeout=120,
        ) as client:
            return list(
                await asyncio.gather(
                    *(client.post(f"/api/tasks/{task['id']}/trigger") for _ in range(50))
                )
            )

    responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201], [r.text for r in responses if r.status_code >= 300]
    run_ids = {r.json()["data"]["task_run_id"] for r in responses}
    assert len(run_ids) == 1
    replayed = [r for r in responses if r.status_code == 200]
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in replayed)
    assert _total_runs(admin, task["id"]) == 1
    assert admin.wait_for_run(run_ids.pop())["status"] == "Completed"
