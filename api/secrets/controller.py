"""``/api/secrets``: named secrets tasks reference; values are write-only."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.body import StrictBody
from api.envelope import Envelope, ok
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED
from api.pagination import Page, PageNumber, PageRequest, PageSize
from api.secrets.schemas import SecretCreate, SecretOut, SecretValueWrite
from api.secrets.service import SecretService


class SecretController(Controller):
    path = "/api/secrets"
    tags = ["secrets"]
    guards = [requires(Permission.SYSTEM_WRITE)]
    security = AUTHENTICATED

    @post(
        "/",
        status_code=201,
        dto=StrictBody[SecretCreate],
        return_dto=None,
        responses=error_responses(403, 409),
        summary="Create a secret (its value is never shown again)",
    )
    async def create_secret(
        self, data: SecretCreate, secret_service: SecretService
    ) -> Envelope[SecretOut]:
        return ok(await secret_service.create(data))

    @get(
        "/",
        responses=error_responses(403),
        summary="List secrets: names, times and the tasks using each (never values)",
    )
    async def list_secrets(
        self, secret_service: SecretService, page: PageNumber = 1, page_size: PageSize = 20
    ) -> Envelope[Page[SecretOut]]:
        return ok(await secret_service.list(PageRequest.of(page, page_size)))

    @put(
        "/{name:str}",
        dto=StrictBody[SecretValueWrite],
        return_dto=None,
        responses=error_responses(403, 404),
        summary="Set a secret's value",
    )
    async def set_secret(
        self, name: str, data: SecretValueWrite, secret_service: SecretService
    ) -> Envelope[SecretOut]:
        return ok(await secret_service.set_value(name, data.value))

    @delete(
        "/{name:str}",
        status_code=200,
        responses=error_responses(403, 404, 409),
        summary="Delete a secret no task references",
    )
    async def delete_secret(self, name: str, secret_service: SecretService) -> Envelope[None]:
        await secret_service.delete(name)
        return ok(None)
