"""``/ui/tasks/{id}``: one task's definition, schedule, fire ledger, history and runs, and
what an operator does to it (run now, pause, resume, backfill, delete)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.console.access import signed_in
from api.console.forms import Form
from api.console.masking import shown_parameters
from api.console.paging import ListView
from api.console.render import console_of, fragment, page, redirect
from api.errors import ApiError, validation_error
from api.pagination import PageRequest
from api.schedules.preview import fires_between
from api.schedules.schemas import BackfillIn
from api.tasks.controller import TaskIdParam
from api.tasks.fires import FireLedgerReader
from api.tasks.reads import TaskReader
from api.tasks.schemas import FireOut, TaskPatch
from api.tasks.service import TaskService
from domain.fire_times import DstPolicy
from domain.statuses import RunStatus, RunTrigger

LEDGER_DAYS = 7
LEDGER_SHOWN = 60
"""Newest fires listed; every missed or skipped one of the 7 days is listed besides."""
RUN_STATUSES = tuple(status.value for status in RunStatus)
TRIGGERS = tuple(trigger.value for trigger in RunTrigger)
NOTICES = {
    "paused": "Paused: the schedule fires no more until the task is resumed.",
    "resumed": "Resumed: the schedule fires again.",
    "backfill": "Backfill started: its runs appear below as Temporal starts them.",
    "saved": "Saved.",
    "created": "Task created.",
}
WRITE = [signed_in(Permission.TASK_WRITE)]


def runs_view(request: Request[Any, Any, Any]) -> ListView:
    query = request.query_params
    status, trigger = query.get("run_status"), query.get("trigger")
    return ListView.of(
        query.get("page"),
        query.get("page_size"),
        run_status=status if status in RUN_STATUSES else None,
        trigger=trigger if trigger in TRIGGERS else None,
    )


def notable(fires: list[FireOut]) -> list[FireOut]:
    """The ledger's newest fires, plus every older missed or skipped one, newest first."""
    due = [fire for fire in fires if fire.outcome != "upcoming"]
    newest = due[-LEDGER_SHOWN:]
    older = [fire for fire in due[: -LEDGER_SHOWN or None] if fire.outcome != "ran"]
    if len(due) <= LEDGER_SHOWN:
        older = []
    return list(reversed(older + newest))


async def runs_context(
    request: Request[Any, Any, Any], task_id: int, task_reader: TaskReader
) -> dict[str, Any]:
    view = runs_view(request)
    runs = await task_reader.runs(
        task_id,
        PageRequest.of(view.page, view.page_size),
        view.filters.get("run_status"),
        view.filters.get("trigger"),
    )
    return {
        "runs": runs,
        "runs_view": view,
        "runs_path": f"/ui/tasks/{task_id}",
        "runs_poll": view.link(f"/ui/tasks/{task_id}/runs"),
        "run_statuses": RUN_STATUSES,
        "triggers": TRIGGERS,
    }


def utc_input(field: str, text: str | None) -> datetime | None:
    """A ``datetime-local`` field's value, read as UTC (the form says so)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise validation_error(field, f"{text!r} is not a date and time") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class TaskController(Controller):
    path = "/tasks/{task_id:int}"
    guards = [signed_in(Permission.TASK_READ)]

    @get("/")
    async def task(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        task_reader: TaskReader,
        fire_ledger: FireLedgerReader,
    ) -> Template:
        task = await task_reader.detail(task_id)
        now = datetime.now(UTC)
        ledger = await fire_ledger.fires(task_id, now - timedelta(days=LEDGER_DAYS), now)
        notice = request.query_params.get("notice")
        return page(
            request,
            "tasks/detail.html",
            task=task,
            parameters=shown_parameters(task.parameters),
            schedule=await task_reader.schedule(task_id, 10),
            ledger=ledger,
            ledger_fires=notable(ledger.fires),
            ledger_days=LEDGER_DAYS,
            notice=NOTICES.get(notice or ""),
            **await runs_context(request, task_id, task_reader),
        )

    @get("/runs")
    async def task_runs(
        self, request: Request[Any, Any, Any], task_id: TaskIdParam, task_reader: TaskReader
    ) -> Template:
        """The runs table of the task page, for its live refresh."""
        return fragment(
            request, "tasks/_runs.html", **await runs_context(request, task_id, task_reader)
        )

    @post("/run", guards=WRITE, status_code=303)
    async def run_now(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        form: Form,
        principal: Principal,
        task_service: TaskService,
    ) -> Redirect:
        triggered = await task_service.trigger(task_id, principal.name)
        await triggered.settled()
        return redirect(request, f"/ui/runs/{triggered.task_run_id}")

    @post("/pause", guards=WRITE, status_code=303)
    async def pause(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        form: Form,
        principal: Principal,
        task_service: TaskService,
    ) -> Redirect:
        await task_service.patch(task_id, TaskPatch(status="Inactive"), principal.name)
        return redirect(request, f"/ui/tasks/{task_id}?notice=paused")

    @post("/resume", guards=WRITE, status_code=303)
    async def resume(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        form: Form,
        principal: Principal,
        task_service: TaskService,
    ) -> Redirect:
        await task_service.patch(task_id, TaskPatch(status="Active"), principal.name)
        return redirect(request, f"/ui/tasks/{task_id}?notice=resumed")

    @get("/backfill", guards=WRITE)
    async def backfill_form(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        task_reader: TaskReader,
    ) -> Template:
        """The range form; with a range, how many fires it holds (what a backfill would run)."""
        task = await task_reader.detail(task_id)
        start_text = request.query_params.get("start", "")
        end_text = request.query_params.get("end", "")
        count: int | None = None
        error: str | None = None
        limit = console_of(request).backfill_max_fires
        try:
            start, end = utc_input("start", start_text), utc_input("end", end_text)
            if start is not None and end is not None:
                if start >= end:
                    raise validation_error("end", "must be later than start")
                fires = fires_between(
                    task.schedule, task.timezone, DstPolicy(task.dst_policy), start, end, limit + 1
                )
                count = len(fires)
        except ApiError as exc:
            error = exc.message
        return page(
            request,
            "tasks/backfill.html",
            task=task,
            start=start_text,
            end=end_text,
            count=count,
            limit=limit,
            error=error,
            status_code=422 if error else 200,
        )

    @post("/backfill", guards=WRITE, status_code=303)
    async def backfill(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        form: Form,
        principal: Principal,
        task_service: TaskService,
        task_reader: TaskReader,
    ) -> Template | Redirect:
        try:
            start = utc_input("start", form.optional("start"))
            end = utc_input("end", form.optional("end"))
            if start is None or end is None:
                raise validation_error("start" if start is None else "end", "is required")
            await task_service.backfill(task_id, BackfillIn(start=start, end=end), principal.name)
        except ApiError as exc:
            if exc.status_code != 422:
                raise
            return page(
                request,
                "tasks/backfill.html",
                task=await task_reader.detail(task_id),
                start=form.text("start"),
                end=form.text("end"),
                count=None,
                limit=console_of(request).backfill_max_fires,
                error=exc.message,
                status_code=422,
            )
        return redirect(request, f"/ui/tasks/{task_id}?notice=backfill")

    @get("/delete", guards=[signed_in(Permission.TASK_DELETE)])
    async def delete_form(
        self, request: Request[Any, Any, Any], task_id: TaskIdParam, task_reader: TaskReader
    ) -> Template:
        """The confirmation, naming the tasks whose dependency on this one blocks it."""
        return page(
            request,
            "tasks/delete.html",
            task=await task_reader.detail(task_id),
            dependents=await task_reader.dependents(task_id),
        )

    @post("/delete", guards=[signed_in(Permission.TASK_DELETE)], status_code=303)
    async def delete(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        form: Form,
        task_service: TaskService,
    ) -> Redirect:
        await task_service.delete(task_id)
        return redirect(request, "/ui/tasks?notice=deleted")
