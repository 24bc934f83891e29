"""``/api/tasks``: task CRUD, trigger, runs and stats."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, Parameter, QueryParameter

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.body import NO_NUL, StrictBody
from api.disconnect import unless_disconnected
from api.envelope import Envelope, ok
from api.notifications.schemas import DeliveryOut
from api.notifications.service import NotificationChannelService
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED
from api.pagination import Page, PageNumber, PageRequest, PageSize
from api.schedules.schemas import BackfillIn, BackfillOut, TaskScheduleOut
from api.tasks.fires import FireLedgerReader
from api.tasks.reads import TaskReader
from api.tasks.run_wait import MAX_WAIT_SECONDS, RunWaiter, Waited
from api.tasks.schemas import (
    MAX_RUN_ID,
    MAX_TASK_ID,
    BulkStatusOut,
    CancelOut,
    FiresOut,
    RunOut,
    RunStatusName,
    TaskDetail,
    TaskOut,
    TaskPatch,
    TaskSelector,
    TaskStatsOut,
    TaskWrite,
    TriggerOut,
)
from api.tasks.service import TaskService
from api.tasks.views import TaskViews
from domain.statuses import RunTriggerName, TaskStatus

# Ids beyond the columns' range name nothing: they are refused as input (422
# naming the parameter) before any query is made.
TaskIdParam = Annotated[int, Parameter(description="Task id", ge=1, le=MAX_TASK_ID)]
RunIdParam = Annotated[int, Parameter(description="Task run id", ge=1, le=MAX_RUN_ID)]

# 1-255 visible ASCII characters (no space), as the contract of the header says.
IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Makes the trigger idempotent: the same key for the same task within "
        "24 hours answers the first run instead of starting another",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
    ),
]
WaitParam = Annotated[
    int | None,
    Parameter(
        description="Hold the answer until the run is terminal or this many seconds pass "
        "(then the header X-Run-Wait: timeout says the run is still open)",
        ge=1,
        le=MAX_WAIT_SECONDS,
    ),
]
RUN_WAIT_HEADER = ResponseHeader(
    name="X-Run-Wait",
    description="`timeout` when `wait` was given and the run was still open when it passed",
    documentation_only=True,
)
TRIGGERED = "Task triggered successfully"
REPLAYED = "Task already triggered with this Idempotency-Key; nothing was started"

READ = [requires(Permission.TASK_READ)]
READ_ERRORS = error_responses(403, 404)
WRITE = [requires(Permission.TASK_WRITE)]


class TaskController(Controller):
    path = "/api/tasks"
    tags = ["tasks"]
    security = AUTHENTICATED

    @post(
        "/",
        guards=WRITE,
        status_code=201,
        dto=StrictBody[TaskWrite],
        return_dto=None,
        responses=error_responses(403, 409),
        summary="Create a scheduled task",
    )
    async def create_task(
        self,
        data: TaskWrite,
        principal: Principal,
        task_service: TaskService,
        task_views: TaskViews,
    ) -> Envelope[TaskOut]:
        task, deps = await task_service.create(data, principal.name)
        return ok(task_views.task(task, deps))

    @post(
        "/pause",
        guards=WRITE,
        status_code=200,
        dto=StrictBody[TaskSelector],
        return_dto=None,
        responses=error_responses(403),
        summary="Pause every task matching the selectors (status Inactive, schedule paused)",
    )
    async def pause_tasks(
        self, data: TaskSelector, principal: Principal, task_service: TaskService
    ) -> Envelope[BulkStatusOut]:
        return ok(await task_service.set_status_of_matching(data, "Inactive", principal.name))

    @post(
        "/resume",
        guards=WRITE,
        status_code=200,
        dto=StrictBody[TaskSelector],
        return_dto=None,
        responses=error_responses(403),
        summary="Resume every task matching the selectors (status Active, schedule unpaused)",
    )
    async def resume_tasks(
        self, data: TaskSelector, principal: Principal, task_service: TaskService
    ) -> Envelope[BulkStatusOut]:
        return ok(await task_service.set_status_of_matching(data, "Active", principal.name))

    @get("/", guards=READ, responses=error_responses(403), summary="List tasks")
    async def list_tasks(
        self,
        task_reader: TaskReader,
        page: PageNumber = 1,
        page_size: PageSize = 20,
        status: TaskStatus | None = None,
        name: Annotated[str | None, Parameter(max_length=255, pattern=NO_NUL)] = None,
        task_type: Annotated[str | None, Parameter(max_length=100, pattern=NO_NUL)] = None,
    ) -> Envelope[Page[TaskOut]]:
        return ok(await task_reader.list(PageRequest.of(page, page_size), status, name, task_type))

    @get(
        "/{task_id:int}",
        guards=READ,
        responses=READ_ERRORS,
        summary="Get a task with recent runs and statistics",
    )
    async def get_task(self, task_id: TaskIdParam, task_reader: TaskReader) -> Envelope[TaskDetail]:
        return ok(await task_reader.detail(task_id))

    @put(
        "/{task_id:int}",
        guards=WRITE,
        dto=StrictBody[TaskWrite],
        return_dto=None,
        responses=error_responses(403, 404, 409),
        summary="Replace a task's definition",
    )
    async def replace_task(
        self,
        task_id: TaskIdParam,
        data: TaskWrite,
        principal: Principal,
        task_service: TaskService,
        task_views: TaskViews,
    ) -> Envelope[TaskOut]:
        task, deps = await task_service.replace(task_id, data, principal.name)
        return ok(task_views.task(task, deps))

    @patch(
        "/{task_id:int}",
        guards=WRITE,
        dto=StrictBody[TaskPatch],
        return_dto=None,
        responses=error_responses(403, 404, 409),
        summary="Change some fields of a task",
    )
    async def patch_task(
        self,
        task_id: TaskIdParam,
        data: TaskPatch,
        principal: Principal,
        task_service: TaskService,
        task_views: TaskViews,
    ) -> Envelope[TaskOut]:
        task, deps = await task_service.patch(task_id, data, principal.name)
        return ok(task_views.task(task, deps))

    @delete(
        "/{task_id:int}",
        guards=[requires(Permission.TASK_DELETE)],
        status_code=200,
        responses=error_responses(403, 404, 409),
        summary="Delete a task, its schedule and its run history",
    )
    async def delete_task(self, task_id: TaskIdParam, task_service: TaskService) -> Envelope[None]:
        await task_service.delete(task_id)
        return ok(None)

    @post(
        "/{task_id:int}/trigger",
        guards=WRITE,
        status_code=201,
        response_headers=[RUN_WAIT_HEADER],
        responses={
            200: ResponseSpec(
                Envelope[TriggerOut],
                description="Replayed: this Idempotency-Key already triggered this task "
                "(header Idempotent-Replayed: true); nothing was started",
                generate_examples=False,
            ),
            **error_responses(403, 404, 409),
        },
        summary="Run a task now",
    )
    async def trigger_task(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        principal: Principal,
        task_service: TaskService,
        run_waiter: RunWaiter,
        idempotency_key: IdempotencyKeyHeader = None,
        wait: WaitParam = None,
    ) -> Response[Envelope[TriggerOut]]:
        """With ``wait``, the answer also holds the run once it ended (or the time passed)."""
        # Before the run exists, so its end cannot be announced unheard.
        since = run_waiter.listening() if wait is not None else None
        triggered = await task_service.trigger(task_id, principal.name, idempotency_key)
        answer = TriggerOut(
            task_run_id=triggered.task_run_id, message=REPLAYED if triggered.replayed else TRIGGERED
        )
        headers = {"Idempotent-Replayed": "true"} if triggered.replayed else {}
        try:
            if wait is not None:
                waited = await unless_disconnected(
                    request.receive,
                    run_waiter.wait(triggered.task_run_id, wait, triggered.workflow_id, since),
                )
                answer.run = waited.run
                headers.update(_wait_headers(waited))
        finally:
            await triggered.settled()
        return Response(ok(answer), status_code=200 if triggered.replayed else 201, headers=headers)

    @get(
        "/{task_id:int}/schedule",
        guards=READ,
        responses=READ_ERRORS,
        summary="A task's next fire times, as Temporal will fire them (DST policy applied)",
    )
    async def task_schedule(
        self,
        task_id: TaskIdParam,
        task_reader: TaskReader,
        count: Annotated[int, Parameter(ge=1, le=100)] = 10,
    ) -> Envelope[TaskScheduleOut]:
        return ok(await task_reader.schedule(task_id, count))

    @post(
        "/{task_id:int}/backfill",
        guards=WRITE,
        status_code=202,
        dto=StrictBody[BackfillIn],
        return_dto=None,
        responses=error_responses(400, 401, 403, 404, 422, 503),
        summary="Run the task's past fire times of a range (each once)",
    )
    async def backfill_task(
        self,
        task_id: TaskIdParam,
        data: BackfillIn,
        principal: Principal,
        task_service: TaskService,
    ) -> Envelope[BackfillOut]:
        fires, start, end = await task_service.backfill(task_id, data, principal.name)
        return ok(BackfillOut(fires=fires, start=start, end=end))

    @get(
        "/{task_id:int}/runs",
        guards=READ,
        responses=READ_ERRORS,
        summary="A task's runs, newest first",
    )
    async def list_runs(
        self,
        task_id: TaskIdParam,
        task_reader: TaskReader,
        page: PageNumber = 1,
        page_size: PageSize = 20,
        status: RunStatusName | None = None,
        trigger: RunTriggerName | None = None,
    ) -> Envelope[Page[RunOut]]:
        return ok(await task_reader.runs(task_id, PageRequest.of(page, page_size), status, trigger))

    @get(
        "/{task_id:int}/fires",
        guards=READ,
        responses=READ_ERRORS,
        summary="The fire ledger: every fire time in a range and what became of it",
    )
    async def task_fires(
        self,
        task_id: TaskIdParam,
        fire_ledger: FireLedgerReader,
        from_: Annotated[
            datetime | None,
            QueryParameter(name="from", description="Start (RFC 3339); default: `to` - 24 h"),
        ] = None,
        to: Annotated[
            datetime | None,
            Parameter(description="End (RFC 3339); default: now, or `from` + 24 h"),
        ] = None,
    ) -> Envelope[FiresOut]:
        return ok(await fire_ledger.fires(task_id, from_, to))

    @get(
        "/{task_id:int}/stats",
        guards=READ,
        responses=READ_ERRORS,
        summary="A task's execution statistics",
    )
    async def task_stats(
        self, task_id: TaskIdParam, task_reader: TaskReader
    ) -> Envelope[TaskStatsOut]:
        return ok(await task_reader.stats(task_id))


class TaskRunController(Controller):
    path = "/api/task-runs"
    tags = ["task runs"]
    security = AUTHENTICATED

    @get(
        "/{run_id:int}",
        guards=READ,
        responses=READ_ERRORS,
        response_headers=[RUN_WAIT_HEADER],
        summary="Get one task run (with `wait`: once it has ended)",
    )
    async def get_run(
        self,
        request: Request[Any, Any, Any],
        run_id: RunIdParam,
        task_reader: TaskReader,
        run_waiter: RunWaiter,
        wait: WaitParam = None,
    ) -> Response[Envelope[RunOut]]:
        if wait is None:
            return Response(ok(await task_reader.run(run_id)))
        waited = await unless_disconnected(request.receive, run_waiter.wait(run_id, wait))
        return Response(ok(waited.run), headers=_wait_headers(waited))

    @get(
        "/{run_id:int}/notifications",
        guards=READ,
        responses=READ_ERRORS,
        summary="The notifications of one run: each delivery, its attempts and outcome",
    )
    async def get_run_notifications(
        self, run_id: RunIdParam, notification_channels: NotificationChannelService
    ) -> Envelope[list[DeliveryOut]]:
        return ok(await notification_channels.deliveries_of_run(run_id))

    @post(
        "/{run_id:int}/cancel",
        guards=WRITE,
        status_code=202,
        responses=error_responses(403, 404, 409),
        summary="Cancel an open run: its work is killed and it ends Failed",
    )
    async def cancel_run(
        self, run_id: RunIdParam, principal: Principal, task_service: TaskService
    ) -> Envelope[CancelOut]:
        await task_service.cancel_run(run_id, principal.name)
        return ok(CancelOut(task_run_id=run_id, message="Cancellation requested"))


def _wait_headers(waited: Waited) -> dict[str, str]:
    return {} if waited.finished else {"X-Run-Wait": "timeout"}
