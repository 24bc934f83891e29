"""``/ui/workers``: the worker registry with each worker's load and recent work, live."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from api.auth.permissions import Permission
from api.console.access import signed_in
from api.console.paging import PAGE_SIZES, ListView
from api.console.render import fragment, page
from api.pagination import PageRequest
from api.workers.reads import WorkerReader
from persistence.workers import ALIVE, DOWN

WORKER_STATUSES = (ALIVE, DOWN)
PATH = "/ui/workers"


def workers_view(page: str | None, page_size: str | None, status: str | None) -> ListView:
    """The list's view from its URL; an unknown status is dropped."""
    return ListView.of(page, page_size, status=status if status in WORKER_STATUSES else None)


async def _listing(request: Request[Any, Any, Any], reader: WorkerReader) -> dict[str, Any]:
    query = request.query_params
    view = workers_view(query.get("page"), query.get("page_size"), query.get("status"))
    request_page = PageRequest.of(view.page, view.page_size)
    listing = await reader.list(request_page, view.filters.get("status"))
    recent = await reader.finished_last_24h([worker.id for worker in listing.items])
    return {"listing": listing, "recent": recent, "view": view, "path": PATH}


class WorkersController(Controller):
    path = "/workers"
    guards = [signed_in(Permission.WORKER_READ)]

    @get("/")
    async def workers(
        self, request: Request[Any, Any, Any], worker_reader: WorkerReader
    ) -> Template:
        context = await _listing(request, worker_reader)
        return page(
            request,
            "workers/list.html",
            statuses=WORKER_STATUSES,
            page_sizes=PAGE_SIZES,
            **context,
        )

    @get("/fragment")
    async def workers_fragment(
        self, request: Request[Any, Any, Any], worker_reader: WorkerReader
    ) -> Template:
        return fragment(request, "workers/_table.html", **await _listing(request, worker_reader))
