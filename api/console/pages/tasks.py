"""``/ui/tasks``: every task at a glance, filtered and paged by its URL."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from api.auth.permissions import Permission
from api.console.access import signed_in
from api.console.paging import PAGE_SIZES, ListView
from api.console.render import page
from api.pagination import PageRequest
from api.tasks.reads import TaskReader
from domain.parameters import SUPPORTED_TASK_TYPES

TASK_STATUSES = ("Active", "Inactive")
PATH = "/ui/tasks"


def tasks_view(
    page: str | None,
    page_size: str | None,
    status: str | None,
    task_type: str | None,
    name: str | None,
) -> ListView:
    """The list's view from its URL; a filter value the API would refuse is dropped."""
    return ListView.of(
        page,
        page_size,
        status=status if status in TASK_STATUSES else None,
        task_type=task_type if task_type in SUPPORTED_TASK_TYPES else None,
        name=(name or "")[:255].replace("\x00", "") or None,
    )


class TasksController(Controller):
    path = "/tasks"
    guards = [signed_in(Permission.TASK_READ)]

    @get("/")
    async def tasks(
        self,
        request: Request[Any, Any, Any],
        task_reader: TaskReader,
        page_size: str | None = None,
        status: str | None = None,
        task_type: str | None = None,
        name: str | None = None,
    ) -> Template:
        view = tasks_view(request.query_params.get("page"), page_size, status, task_type, name)
        listing = await task_reader.list(
            PageRequest.of(view.page, view.page_size),
            view.filters.get("status"),
            view.filters.get("name"),
            view.filters.get("task_type"),
        )
        return page(
            request,
            "tasks/list.html",
            listing=listing,
            view=view,
            path=PATH,
            statuses=TASK_STATUSES,
            task_types=SUPPORTED_TASK_TYPES,
            page_sizes=PAGE_SIZES,
        )
