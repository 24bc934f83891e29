"""``/ui/tasks``: every task at a glance, filtered and paged by its URL, its rows live."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from api.auth.permissions import Permission
from api.console.access import signed_in
from api.console.paging import PAGE_SIZES, ListView
from api.console.render import fragment, page
from api.pagination import Page, PageRequest
from api.tasks.overview import STRIP_RUNS, TaskLine, TaskOverviews
from domain.task_types import SUPPORTED_TASK_TYPES

TASK_STATUSES = ("Active", "Inactive")
PATH = "/ui/tasks"
ROWS_PATH = f"{PATH}/rows"
NOTICES = {"deleted": "Task deleted, with its schedule and its run history."}


def tasks_view(request: Request[Any, Any, Any]) -> ListView:
    """The list's view from its URL; a filter value the API would refuse is dropped."""
    query = request.query_params
    status, task_type = query.get("status"), query.get("task_type")
    return ListView.of(
        query.get("page"),
        query.get("page_size"),
        status=status if status in TASK_STATUSES else None,
        task_type=task_type if task_type in SUPPORTED_TASK_TYPES else None,
        name=(query.get("name") or "")[:255].replace("\x00", "") or None,
    )


async def lines_of(view: ListView, overviews: TaskOverviews) -> Page[TaskLine]:
    return await overviews.page(
        PageRequest.of(view.page, view.page_size),
        view.filters.get("status"),
        view.filters.get("name"),
        view.filters.get("task_type"),
    )


class TasksController(Controller):
    path = "/tasks"
    guards = [signed_in(Permission.TASK_READ)]

    @get("/")
    async def tasks(
        self, request: Request[Any, Any, Any], task_overviews: TaskOverviews
    ) -> Template:
        view = tasks_view(request)
        return page(
            request,
            "tasks/list.html",
            listing=await lines_of(view, task_overviews),
            view=view,
            path=PATH,
            rows_path=view.link(ROWS_PATH),
            statuses=TASK_STATUSES,
            task_types=SUPPORTED_TASK_TYPES,
            page_sizes=PAGE_SIZES,
            strip_runs=STRIP_RUNS,
            notice=NOTICES.get(request.query_params.get("notice") or ""),
        )

    @get("/rows")
    async def task_rows(
        self, request: Request[Any, Any, Any], task_overviews: TaskOverviews
    ) -> Template:
        """The table of the same view, for the page's live refresh."""
        view = tasks_view(request)
        return fragment(
            request,
            "tasks/_table.html",
            listing=await lines_of(view, task_overviews),
            view=view,
            rows_path=view.link(ROWS_PATH),
            strip_runs=STRIP_RUNS,
        )
