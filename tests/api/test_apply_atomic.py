"""Apply as one unit, on both databases: prune, refusals that write nothing, a schedule
Temporal refuses midway, and concurrent applies.

Each backend gets an app on a database (and a Temporal namespace) of its own,
since prune deletes every task the set does not name. Refusals are injected
at the Temporal client's outbound boundary (an SDK interceptor), so the real
schedule manager, client and dev server do everything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio.client import (
    Client,
    CreateScheduleInput,
    DeleteScheduleInput,
    Interceptor,
    OutboundInterceptor,
    ScheduleHandle,
    UpdateScheduleInput,
)
from temporalio.service import RPCError, RPCStatusCode

from api.apply.schemas import ApplyRequest
from api.apply.service import ApplyService
from api.errors import ApiError
from persistence.database import create_engine, create_sessionmaker
from tests.api.test_apply import apply, http, refused, shell
from tests.conftest import BACKENDS, fresh_database
from tests.dev_server import DevServer
from tests.helpers import Api
from tests.in_process import App, running_app
from workflows.client import connect
from workflows.schedules import schedule_manager

Refuse = Callable[[str, str], RPCStatusCode | None]
"""``(operation, schedule id)`` -> the status to refuse that call with, or None."""


@pytest.fixture(scope="module", params=BACKENDS)
def own_app(
    request: pytest.FixtureRequest, dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    backend: str = request.param
    with (
        fresh_database(backend, tmp_path_factory.mktemp(f"apply-{backend}")) as url,
        running_app(backend, url, dev_server) as running,
    ):
        yield running


@pytest.fixture
def admin(own_app: App) -> Api:
    """The app's admin, on an empty server."""
    api = own_app.api("admin")
    apply(api, [], prune=True)
    return api


def refusing(operation: str, schedule_id: str, status: RPCStatusCode) -> Refuse:
    """Refuse the first ``operation`` of ``schedule_id`` with ``status``, and no other call."""
    refused: list[str] = []

    def refuse(op: str, id_: str) -> RPCStatusCode | None:
        if refused or (op, id_) != (operation, schedule_id):
            return None
        refused.append(id_)
        return status

    return refuse


class RefusingInterceptor(Interceptor):
    """Refuses the schedule calls ``refuse`` names; records the ids of those made."""

    def __init__(self, refuse: Refuse) -> None:
        self.refuse = refuse
        self.created: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Refusing(next, self)


class _Refusing(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, owner: RefusingInterceptor) -> None:
        super().__init__(next)
        self._owner = owner

    def _check(self, operation: str, schedule_id: str) -> None:
        status = self._owner.refuse(operation, schedule_id)
        if status is not None:
            raise RPCError(f"refused {operation} of {schedule_id} (test)", status, b"")

    async def create_schedule(self, input: CreateScheduleInput) -> ScheduleHandle:
        self._check("create", input.id)
        handle = await super().create_schedule(input)
        self._owner.created.append(input.id)
        return handle

    async def update_schedule(self, input: UpdateScheduleInput) -> None:
        self._check("update", input.id)
        await super().update_schedule(input)

    async def delete_schedule(self, input: DeleteScheduleInput) -> None:
        self._check("delete", input.id)
        await super().delete_schedule(input)


@asynccontextmanager
async def apply_service(app: App, interceptor: Interceptor | None = None) -> AsyncIterator[Any]:
    """The app's apply service as the API builds it, on a client with ``interceptor``."""
    settings = app.settings
    engine = create_engine(settings.database_url)
    client = await connect(settings, within_seconds=30)
    if interceptor is not None:
        config = client.config()
        config["interceptors"] = [interceptor]
        client = Client(**config)
    try:
        yield ApplyService(
            create_sessionmaker(engine), client, schedule_manager(client, settings), settings
        )
    finally:
        await engine.dispose()


async def schedule_note(client: Client, schedule_id: str) -> str | None:
    """The schedule's note (it carries the definition's digest); None when it is gone."""
    try:
        described = await client.get_schedule_handle(schedule_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return described.schedule.state.note


def notes(app: App, schedule_ids: list[str]) -> dict[str, str | None]:
    async def run() -> dict[str, str | None]:
        client = await connect(app.settings, within_seconds=30)
        return {id_: await schedule_note(client, id_) for id_ in schedule_ids}

    return asyncio.run(run())


def exported(api: Api) -> list[dict[str, Any]]:
    response = api.get("/api/tasks/export")
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()["data"]["tasks"]
    return tasks


def test_prune_deletes_what_the_set_no_longer_names_and_refuses_to_orphan(
    own_app: App, admin: Api
) -> None:
    first = apply(admin, [shell("a"), shell("b", dependencies=["a"]), http("c")])
    ids = first["ids"]
    pruned = apply(admin, [shell("a"), shell("b", dependencies=["a"])], prune=True)
    assert [entry["name"] for entry in pruned["delete"]] == ["c"]
    assert [entry["name"] for entry in pruned["unchanged"]] == ["a", "b"]
    assert [task["name"] for task in exported(admin)] == ["a", "b"]
    assert notes(own_app, [f"task-{ids['c']}"]) == {f"task-{ids['c']}": None}

    problems = refused(admin, {"tasks": [shell("b", dependencies=["a"])], "prune": True})
    assert [(p["task"], p["code"]) for p in problems] == [("b", "TASK_HAS_DEPENDENTS")]
    assert [task["name"] for task in exported(admin)] == ["a", "b"]


def test_a_cycle_or_a_bad_cron_refuses_the_set_and_writes_nothing(own_app: App, admin: Api) -> None:
    first = apply(admin, [shell("a"), shell("b", dependencies=["a"])])
    before = exported(admin)
    schedules = [f"task-{task_id}" for task_id in first["ids"].values()]
    notes_before = notes(own_app, schedules)
    problems = refused(
        admin,
        {
            "tasks": [
                shell("a", dependencies=["b"], schedule="0 4 * * *"),
                shell("b", dependencies=["a"]),
                shell("new", schedule="61 * * * *"),
            ],
            "prune": True,
        },
    )
    assert sorted((p["task"], p["code"]) for p in problems) == [
        ("a", "DEPENDENCY_CYCLE"),
        ("b", "DEPENDENCY_CYCLE"),
        ("new", "INVALID_SCHEDULE"),
    ]
    assert exported(admin) == before
    assert notes(own_app, schedules) == notes_before


def test_a_schedule_temporal_refuses_rolls_back_and_undoes_the_schedules_changed(
    own_app: App, admin: Api
) -> None:
    first = apply(admin, [shell("kept", schedule="0 1 * * *"), shell("doomed")])
    kept, doomed = f"task-{first['ids']['kept']}", f"task-{first['ids']['doomed']}"
    before, notes_before = exported(admin), notes(own_app, [kept, doomed])
    wanted = [shell("new-1"), shell("new-2"), shell("kept", schedule="0 2 * * *")]
    request = ApplyRequest(tasks=wanted, prune=True)

    async def attempt(refuse: Refuse) -> tuple[BaseException, list[str]]:
        interceptor = RefusingInterceptor(refuse)
        async with apply_service(own_app, interceptor) as service:
            with pytest.raises((ApiError, RPCError)) as raised:
                await service.apply(request, "tester")
        return raised.value, interceptor.created

    # Temporal refuses the edited task's schedule after both new ones were created.
    error, created = asyncio.run(
        attempt(
            lambda op, id_: (
                RPCStatusCode.INVALID_ARGUMENT if (op, id_) == ("create", kept) else None
            )
        )
    )
    assert isinstance(error, ApiError) and error.status_code == 422
    assert [(p.index, p.task, p.field, p.code) for p in error.details["errors"]] == [
        (2, "kept", "schedule", "INVALID_SCHEDULE")
    ]
    assert len(created) == 2
    assert notes(own_app, created) == dict.fromkeys(created)
    assert exported(admin) == before
    assert notes(own_app, [kept, doomed]) == notes_before

    # Temporal fails the last step (prune's delete): the edit's schedule change is undone too.
    error, created = asyncio.run(
        attempt(
            lambda op, id_: RPCStatusCode.UNAVAILABLE if (op, id_) == ("delete", doomed) else None
        )
    )
    assert isinstance(error, RPCError) and error.status == RPCStatusCode.UNAVAILABLE
    assert len(created) == 2
    assert notes(own_app, created) == dict.fromkeys(created)
    assert exported(admin) == before
    assert notes(own_app, [kept, doomed]) == notes_before

    # Nothing else was in the way: the same set applies once Temporal takes it.
    plan = apply(admin, wanted, prune=True)
    assert [entry["name"] for entry in plan["delete"]] == ["doomed"]
    assert notes(own_app, [kept])[kept] != notes_before[kept]


def test_concurrent_applies_end_as_one_after_the_other(own_app: App, admin: Api) -> None:
    sets = {
        side: [shell(f"{side}-{n}", dependencies=[f"{side}-0"] if n else []) for n in range(8)]
        for side in ("left", "right")
    }

    async def both() -> list[Any]:
        async with apply_service(own_app) as left, apply_service(own_app) as right:
            return list(
                await asyncio.gather(
                    left.apply(ApplyRequest(tasks=sets["left"], prune=True), "left"),
                    right.apply(ApplyRequest(tasks=sets["right"], prune=True), "right"),
                )
            )

    plans = asyncio.run(both())
    final = sorted(task["name"] for task in exported(admin))
    names = {side: sorted(task["name"] for task in tasks) for side, tasks in sets.items()}
    assert final in (names["left"], names["right"])
    # The one that ran second planned from what the first committed: it deleted that set.
    deleted = [sorted(entry.name for entry in plan.delete) for plan in plans]
    assert sorted(deleted) == sorted([[], names["left" if final == names["right"] else "right"]])
    for plan in plans:
        assert [entry.name for entry in plan.create] == [
            task["name"] for task in sets["left" if plan is plans[0] else "right"]
        ]
