"""``POST /api/tasks/apply`` and ``GET /api/tasks/export``: tasks as code."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from api.apply.decode import refusal, request_problem
from api.apply.schemas import ApplyIn, ApplyOut, ApplyRefusal, ApplyRequest, ExportOut
from api.apply.service import ApplyService
from api.auth.guards import check_permissions, requires
from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.body import SchemaCreator, StrictBody, decode_body
from api.envelope import Envelope, ok
from api.errors import ApiError
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED


class ApplyBody(StrictBody[ApplyRequest]):
    """Decodes the request's envelope strictly and leaves each definition to the service,
    which checks them one by one; the document describes the body as ``ApplyIn``."""

    def decode_bytes(self, value: bytes) -> Any:
        try:
            return decode_body(value, ApplyRequest)
        except ApiError as exc:
            if exc.status_code != 422:
                raise
            raise refusal([request_problem(exc)]) from exc

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(ApplyIn))


REFUSED = ResponseSpec(
    ApplyRefusal,
    description="The set is refused and nothing was written: `details.errors` lists every "
    "problem of every task (`VALIDATION_ERROR`; each item has its own code: "
    "`VALIDATION_ERROR`, `INVALID_SCHEDULE`, `DEPENDENCY_CYCLE`, `TASK_HAS_DEPENDENTS`)",
    generate_examples=False,
)


class TaskApplyController(Controller):
    path = "/api/tasks"
    tags = ["tasks"]
    security = AUTHENTICATED

    @post(
        "/apply",
        guards=[requires(Permission.TASK_WRITE)],
        status_code=200,
        dto=ApplyBody,
        return_dto=None,
        responses={422: REFUSED, **error_responses(403, 409)},
        summary="Apply a whole set of task definitions (keyed by name) as one unit",
        description="Creates, updates and (with `prune`, which needs TaskDelete too) deletes "
        "tasks so the server holds exactly the set; `dry_run` only plans. Answers the plan.",
    )
    async def apply_tasks(
        self, data: ApplyRequest, principal: Principal, apply_service: ApplyService
    ) -> Envelope[ApplyOut]:
        if data.prune:
            check_permissions(principal, Permission.TASK_DELETE)
        return ok(await apply_service.apply(data, principal.name))

    @get(
        "/export",
        guards=[requires(Permission.TASK_READ)],
        responses=error_responses(403),
        summary="Every task as a definition apply accepts (dependencies by name)",
    )
    async def export_tasks(self, apply_service: ApplyService) -> Envelope[ExportOut]:
        return ok(await apply_service.export())
