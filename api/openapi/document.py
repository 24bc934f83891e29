"""The OpenAPI document: Litestar's description of the routes, completed with what it cannot know.

Litestar writes the paths, parameters, tags and success responses from the
route declarations, and :class:`StructSchemas` makes every body a reference to
msgspec's own schema of it. :meth:`ApiDocument.complete` then adds what the
request pipeline in front of the handlers does, which no route declaration
shows: the components those references point at, the error responses the
pipeline answers (in the error envelope, replacing Litestar's generic 400),
and the headers every response carries (``X-Request-ID``; the rate limit's on
limited routes).
"""

from __future__ import annotations

from typing import Any

from litestar import HttpMethod, Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

from api.apply.schemas import ApplyDefinition, ApplyRefusal
from api.envelope import ErrorEnvelope
from api.openapi.responses import DESCRIPTIONS, derived_errors
from api.openapi.security import SECURITY_SCHEMES
from api.openapi.structs import StructSchemas
from api.security.rate_limit import limit_class
from api.tasks.schemas import PARAMETERS_BY_TYPE, TaskPatch, TaskWrite
from domain.parameters import HttpParameters, PythonParameters, ShellParameters

METHODS = ("get", "put", "post", "delete", "patch")


def _header(description: str, kind: OpenAPIType = OpenAPIType.INTEGER) -> OpenAPIHeader:
    return OpenAPIHeader(schema=Schema(type=kind), required=True, description=description)


REQUEST_ID = {"X-Request-ID": _header("This request's id, also in the logs", OpenAPIType.STRING)}
RATE_LIMIT = {
    "X-RateLimit-Limit": _header("Requests allowed in the window"),
    "X-RateLimit-Remaining": _header("Requests left in the window"),
    "X-RateLimit-Reset": _header("Unix time at which the window ends"),
}
RETRY_AFTER = {"Retry-After": _header("Seconds until a request is allowed again")}


def operation_id(handler: HTTPRouteHandler, _method: HttpMethod | str, _path: list[Any]) -> str:
    """The handler's name (``create_task``): what a generated client calls the operation."""
    return handler.handler_name


class ApiDocument:
    """The OpenAPI config and struct plugin of one app, and the step that completes its document."""

    def __init__(self, *renderers: OpenAPIRenderPlugin) -> None:
        """``renderers``: the documentation pages served under ``/schema``."""
        self.structs = StructSchemas(
            ShellParameters,
            HttpParameters,
            PythonParameters,
            refinements={
                TaskWrite: PARAMETERS_BY_TYPE,
                TaskPatch: PARAMETERS_BY_TYPE,
                ApplyDefinition: PARAMETERS_BY_TYPE,
            },
        )
        self.config = OpenAPIConfig(
            title="Temporal task scheduler",
            version="1.0.0",
            path="/schema",
            render_plugins=list(renderers),
            components=Components(security_schemes=dict(SECURITY_SCHEMES)),
            operation_id_creator=operation_id,
        )

    def complete(self, app: Litestar) -> None:
        """Build ``app``'s document now and add what the pipeline answers to every operation."""
        document = app.openapi_schema
        document.components.schemas.update(self.structs.components())
        error = self.structs.reference(ErrorEnvelope)
        # Routes may declare a refusal of their own shape (apply's 422 lists every problem).
        errors = [error, self.structs.reference(ApplyRefusal)]
        for path, item in (document.paths or {}).items():
            limited = limit_class(path) is not None
            for method in METHODS:
                operation: Operation | None = getattr(item, method)
                if operation is not None:
                    self._unwrap_structs(operation)
                    self._complete_operation(operation, error, errors, limited=limited)

    def _unwrap_structs(self, operation: Operation) -> None:
        bodies = [operation.request_body, *(operation.responses or {}).values()]
        for body in bodies:
            if isinstance(body, RequestBody | OpenAPIResponse):
                for media in (body.content or {}).values():
                    media.schema = self.structs.unwrap(media.schema)

    @staticmethod
    def _complete_operation(
        operation: Operation, error: Reference, errors: list[Reference], *, limited: bool
    ) -> None:
        responses: dict[str, Any] = dict(operation.responses or {})
        for status, response in list(responses.items()):
            # Litestar's own 400 (its ValidationException shape) is not what the server
            # sends: parameter errors leave as 422 in the error envelope.
            if status >= "400" and not any(_answers_with(response, shape) for shape in errors):
                del responses[status]
        derived = derived_errors(
            has_body=operation.request_body is not None,
            has_parameters=bool(operation.parameters),
            secured=bool(operation.security),
            limited=limited,
        )
        for code in sorted(derived):
            responses.setdefault(
                str(code),
                OpenAPIResponse(
                    description=DESCRIPTIONS[code],
                    content={"application/json": OpenAPIMediaType(schema=error)},
                ),
            )
        for status, response in responses.items():
            headers = dict(response.headers or {})
            headers.update(REQUEST_ID)
            if limited:
                headers.update(RATE_LIMIT)
            if status == "429":
                headers.update(RETRY_AFTER)
            response.headers = headers
        operation.responses = dict(sorted(responses.items()))


def _answers_with(response: OpenAPIResponse | Reference, schema: Reference) -> bool:
    if not isinstance(response, OpenAPIResponse):
        return False
    media = (response.content or {}).get("application/json")
    return media is not None and media.schema == schema
