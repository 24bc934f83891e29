"""``/api/workers``: the registry and per-worker statistics."""

from __future__ import annotations

from litestar import Controller, get

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.envelope import Envelope, ok
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED
from api.pagination import Page, PageNumber, PageRequest, PageSize
from api.workers.reads import WorkerReader
from api.workers.schemas import WorkerOut, WorkerStatsOut, WorkerStatusName

READ = [requires(Permission.WORKER_READ)]
READ_ERRORS = error_responses(403, 404)


class WorkerController(Controller):
    path = "/api/workers"
    tags = ["workers"]
    security = AUTHENTICATED

    @get("/", guards=READ, responses=error_responses(403), summary="List registered workers")
    async def list_workers(
        self,
        worker_reader: WorkerReader,
        status: WorkerStatusName | None = None,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> Envelope[Page[WorkerOut]]:
        return ok(await worker_reader.list(PageRequest.of(page, page_size), status))

    @get("/{worker_id:str}", guards=READ, responses=READ_ERRORS, summary="Get one worker")
    async def get_worker(self, worker_id: str, worker_reader: WorkerReader) -> Envelope[WorkerOut]:
        return ok(await worker_reader.detail(worker_id))

    @get(
        "/{worker_id:str}/stats",
        guards=READ,
        responses=READ_ERRORS,
        summary="What a worker executed, from run history",
    )
    async def worker_stats(
        self, worker_id: str, worker_reader: WorkerReader
    ) -> Envelope[WorkerStatsOut]:
        return ok(await worker_reader.stats(worker_id))
