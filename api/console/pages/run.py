"""``/ui/runs/{id}``: one run's timeline, attempt, worker and output, live while it is open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.console.access import signed_in
from api.console.forms import Form
from api.console.render import fragment, page, redirect
from api.notifications.schemas import DeliveryOut
from api.notifications.service import NotificationChannelService
from api.tasks.controller import RunIdParam
from api.tasks.reads import TaskReader
from api.tasks.schemas import RunOut
from api.tasks.service import TaskService
from domain.statuses import RunStatus


@dataclass(frozen=True)
class Step:
    """One step of a run's timeline: when it was reached, how long until the next."""

    label: str
    at: datetime | None
    state: str
    """``done``, ``current``, ``bad`` or ``todo`` (the CSS class of its dot)."""
    took_ms: float | None = None


def timeline(run: RunOut) -> list[Step]:
    """Pending -> Dispatched -> Running -> its end, each with its time and the time to the next."""
    status = RunStatus(run.status)
    end_label = status.value if status.is_terminal else "Completed"
    moments = [run.created_at, run.dispatched_at, run.started_at, run.completed_at]
    labels = ["Pending", "Dispatched", "Running", end_label]
    reached = {
        RunStatus.PENDING: 0,
        RunStatus.DISPATCHED: 1,
        RunStatus.RUNNING: 2,
    }.get(status, 3)
    steps = []
    for index, (label, at) in enumerate(zip(labels, moments, strict=True)):
        later = next((m for m in moments[index + 1 :] if m is not None), None)
        took = (later - at).total_seconds() * 1000 if at is not None and later else None
        if at is None and index < 3:
            state = "todo"  # never reached (e.g. failed while waiting for a dependency)
        elif index < reached or (index == reached == 3 and status is RunStatus.COMPLETED):
            state = "done"
        elif index == reached:
            state = "bad" if status.is_terminal else "current"
        else:
            state = "todo"
        steps.append(Step(label, at, state, took if index < 3 else None))
    return steps


NOTIFY_GRACE = timedelta(seconds=60)
"""How long after a run ends its page keeps looking for the notifications of its end."""


def still_live(run: RunOut, deliveries: list[DeliveryOut], now: datetime) -> bool:
    """Whether the page should keep refreshing: the run is open, a delivery is still being
    tried, or the run ended so recently that the notifications of its end may be on their way."""
    if not RunStatus(run.status).is_terminal:
        return True
    if any(d.delivered_at is None and d.gave_up_at is None for d in deliveries):
        return True
    return run.completed_at is not None and now - run.completed_at < NOTIFY_GRACE


async def run_context(
    run_id: int, task_reader: TaskReader, notifications: NotificationChannelService
) -> dict[str, Any]:
    run = await task_reader.run(run_id)
    deliveries = await notifications.deliveries_of_run(run_id)
    return {
        "run": run,
        "steps": timeline(run),
        "open": not RunStatus(run.status).is_terminal,
        "live": still_live(run, deliveries, datetime.now(UTC)),
        "deliveries": deliveries,
        "live_path": f"/ui/runs/{run_id}/live",
    }


class RunController(Controller):
    path = "/runs/{run_id:int}"
    guards = [signed_in(Permission.TASK_READ)]

    @get("/")
    async def run(
        self,
        request: Request[Any, Any, Any],
        run_id: RunIdParam,
        task_reader: TaskReader,
        notification_channels: NotificationChannelService,
    ) -> Template:
        context = await run_context(run_id, task_reader, notification_channels)
        task = await task_reader.detail(context["run"].task_id)
        return page(request, "runs/detail.html", task=task, **context)

    @get("/live")
    async def run_live(
        self,
        request: Request[Any, Any, Any],
        run_id: RunIdParam,
        task_reader: TaskReader,
        notification_channels: NotificationChannelService,
    ) -> Template:
        """The run's live part; it stops polling itself once the run has ended (and the
        notifications of its end are through)."""
        context = await run_context(run_id, task_reader, notification_channels)
        return fragment(request, "runs/_live.html", **context)

    @post("/cancel", guards=[signed_in(Permission.TASK_WRITE)], status_code=303)
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        run_id: RunIdParam,
        form: Form,
        principal: Principal,
        task_service: TaskService,
    ) -> Redirect:
        await task_service.cancel_run(run_id, principal.name)
        return redirect(request, f"/ui/runs/{run_id}")
