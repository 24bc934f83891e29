"""The task forms: ``/ui/tasks/new`` and ``/ui/tasks/{id}/edit``, and the live preview of the
schedule being typed (``/ui/schedule-preview``, the logic of ``POST /api/schedules/preview``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.console.access import signed_in
from api.console.forms import Form
from api.console.render import fragment, page, redirect
from api.console.task_form import (
    DST_POLICIES,
    OVERLAP_POLICIES,
    TaskFormState,
    blank_form,
    form_of,
    posted,
    refused,
    task_patch,
    task_write,
)
from api.errors import ApiError
from api.schedules.preview import preview
from api.tasks.controller import TaskIdParam
from api.tasks.reads import TaskReader
from api.tasks.service import TaskService
from domain.fire_times import DstPolicy
from domain.task_types import SUPPORTED_TASK_TYPES

PREVIEW_FIRES = 5
# The form's own refusals: anything else (Temporal down, a 404) is the error page.
SHOWN_ON_THE_FORM = {400, 409, 422}


def form_page(
    request: Request[Any, Any, Any],
    state: TaskFormState,
    *,
    action: str,
    title: str,
    task_id: int | None = None,
) -> Template:
    status = 422 if state.error else 200
    return page(
        request,
        "tasks/form.html",
        status_code=status,
        form=state,
        action=action,
        title=title,
        task_id=task_id,
        task_types=SUPPORTED_TASK_TYPES,
        overlap_policies=OVERLAP_POLICIES,
        dst_policies=DST_POLICIES,
        preview=schedule_preview(
            state.values["schedule"], state.values["timezone"], state.values["dst_policy"]
        ),
    )


def schedule_preview(schedule: str, timezone: str, dst_policy: str) -> dict[str, Any]:
    """The next fires of what is typed, or the API's message for why there are none."""
    try:
        policy = DstPolicy(dst_policy)
    except ValueError:
        policy = DstPolicy.CRON
    try:
        shown = preview(
            schedule, timezone.strip() or None, policy, datetime.now(UTC), PREVIEW_FIRES
        )
    except ApiError as exc:
        return {"error": exc.message, "fires": [], "schedule": schedule, "timezone": timezone}
    return {
        "error": None,
        "fires": shown.next_runs,
        "schedule": shown.schedule,
        "timezone": timezone,
    }


class TaskFormController(Controller):
    path = "/"
    guards = [signed_in(Permission.TASK_WRITE)]

    @get("/tasks/new")
    async def new_task(self, request: Request[Any, Any, Any]) -> Template:
        return form_page(request, blank_form(), action="/ui/tasks/new", title="New task")

    @post("/tasks/new", status_code=303)
    async def create_task(
        self,
        request: Request[Any, Any, Any],
        form: Form,
        principal: Principal,
        task_service: TaskService,
    ) -> Template | Redirect:
        state = posted(form)
        try:
            task, _ = await task_service.create(task_write(state), principal.name)
        except ApiError as exc:
            if exc.status_code not in SHOWN_ON_THE_FORM:
                raise
            return form_page(request, refused(state, exc), action="/ui/tasks/new", title="New task")
        return redirect(request, f"/ui/tasks/{task.id}?notice=created")

    @get("/tasks/{task_id:int}/edit")
    async def edit_task(
        self, request: Request[Any, Any, Any], task_id: TaskIdParam, task_reader: TaskReader
    ) -> Template:
        task = await task_reader.detail(task_id)
        return form_page(
            request,
            form_of(task),
            action=f"/ui/tasks/{task_id}/edit",
            title=f"Edit {task.name}",
            task_id=task_id,
        )

    @post("/tasks/{task_id:int}/edit", status_code=303)
    async def save_task(
        self,
        request: Request[Any, Any, Any],
        task_id: TaskIdParam,
        form: Form,
        principal: Principal,
        task_service: TaskService,
    ) -> Template | Redirect:
        state = posted(form)
        try:
            await task_service.patch(task_id, task_patch(state), principal.name)
        except ApiError as exc:
            if exc.status_code not in SHOWN_ON_THE_FORM:
                raise
            return form_page(
                request,
                refused(state, exc),
                action=f"/ui/tasks/{task_id}/edit",
                title="Edit task",
                task_id=task_id,
            )
        return redirect(request, f"/ui/tasks/{task_id}?notice=saved")


class SchedulePreviewController(Controller):
    path = "/schedule-preview"
    guards = [signed_in(Permission.TASK_READ)]

    @get("/")
    async def schedule_preview(
        self,
        request: Request[Any, Any, Any],
        schedule: str = "",
        timezone: str = "",
        dst_policy: str = "cron",
    ) -> Template:
        """The next fires of a schedule being typed (a fragment for the task form)."""
        return fragment(
            request,
            "tasks/_preview.html",
            preview=schedule_preview(schedule[:255], timezone[:64], dst_policy),
        )
