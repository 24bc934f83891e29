"""``/api/auth``: login, refresh, validate, logout."""

from __future__ import annotations

from litestar import Controller, delete, get, post

from api.auth.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyService
from api.auth.guards import requires
from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.auth.schemas import LoginRequest, RefreshRequest, TokenResponse, ValidateResponse
from api.auth.service import AuthService
from api.body import StrictBody
from api.envelope import Envelope, ok
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED
from api.pagination import Page, PageNumber, PageRequest, PageSize
from api.users.schemas import PasswordChange


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/login",
        status_code=200,
        dto=StrictBody[LoginRequest],
        return_dto=None,
        responses=error_responses(401),
        summary="Authenticate and receive JWT tokens",
    )
    async def login(self, data: LoginRequest, auth_service: AuthService) -> Envelope[TokenResponse]:
        return ok(await auth_service.login(data.username, data.password))

    @post(
        "/refresh",
        status_code=200,
        dto=StrictBody[RefreshRequest],
        return_dto=None,
        responses=error_responses(401),
        summary="Rotate a refresh token for a new token pair",
    )
    async def refresh(
        self, data: RefreshRequest, auth_service: AuthService
    ) -> Envelope[TokenResponse]:
        return ok(await auth_service.refresh(data.refresh_token))

    @post(
        "/password",
        status_code=200,
        guards=[requires()],
        security=AUTHENTICATED,
        dto=StrictBody[PasswordChange],
        return_dto=None,
        responses=error_responses(403),
        summary="Change your own password (your other sessions end; a new token pair is answered)",
    )
    async def change_password(
        self, data: PasswordChange, principal: Principal, auth_service: AuthService
    ) -> Envelope[TokenResponse]:
        return ok(
            await auth_service.change_password(principal, data.current_password, data.new_password)
        )

    @get(
        "/validate",
        guards=[requires()],
        security=AUTHENTICATED,
        summary="Validate the current token",
    )
    async def validate(self, principal: Principal) -> Envelope[ValidateResponse]:
        return ok(
            ValidateResponse(
                valid=True,
                user_id=principal.id,
                username=principal.name,
                permissions=list(principal.permissions),
                expires_at=principal.expires_at,
                kind=principal.kind,
            )
        )

    @post(
        "/logout",
        status_code=200,
        guards=[requires()],
        security=AUTHENTICATED,
        summary="Invalidate the session",
    )
    async def logout(self, principal: Principal, auth_service: AuthService) -> Envelope[None]:
        await auth_service.logout(principal)
        return ok(None)


class ApiKeyController(Controller):
    path = "/api/auth/api-keys"
    tags = ["auth"]
    guards = [requires(Permission.ADMIN)]
    security = AUTHENTICATED

    @post(
        "/",
        status_code=201,
        dto=StrictBody[ApiKeyCreate],
        return_dto=None,
        responses=error_responses(403),
        summary="Create an API key (its secret is shown only in this answer)",
    )
    async def create_api_key(
        self, data: ApiKeyCreate, principal: Principal, api_key_service: ApiKeyService
    ) -> Envelope[ApiKeyCreated]:
        return ok(await api_key_service.create(data, principal))

    @get(
        "/",
        responses=error_responses(403),
        summary="List API keys (never their secrets)",
    )
    async def list_api_keys(
        self, api_key_service: ApiKeyService, page: PageNumber = 1, page_size: PageSize = 20
    ) -> Envelope[Page[ApiKeyOut]]:
        return ok(await api_key_service.list(PageRequest.of(page, page_size)))

    @delete(
        "/{key_id:str}",
        status_code=200,
        responses=error_responses(403, 404),
        summary="Revoke an API key",
    )
    async def revoke_api_key(self, key_id: str, api_key_service: ApiKeyService) -> Envelope[None]:
        await api_key_service.revoke(key_id)
        return ok(None)
