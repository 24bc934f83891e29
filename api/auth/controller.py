"""``/api/auth``: login, refresh, validate, logout."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from api.auth.guards import requires
from api.auth.principal import Principal
from api.auth.schemas import LoginRequest, RefreshRequest, TokenResponse, ValidateResponse
from api.auth.service import AuthService
from api.body import decode_body
from api.envelope import Envelope, ok


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/login", status_code=200, summary="Authenticate and receive JWT tokens")
    async def login(
        self, request: Request[Any, Any, Any], auth_service: AuthService
    ) -> Envelope[TokenResponse]:
        body = decode_body(await request.body(), LoginRequest)
        return ok(await auth_service.login(body.username, body.password))

    @post("/refresh", status_code=200, summary="Rotate a refresh token for a new token pair")
    async def refresh(
        self, request: Request[Any, Any, Any], auth_service: AuthService
    ) -> Envelope[TokenResponse]:
        body = decode_body(await request.body(), RefreshRequest)
        return ok(await auth_service.refresh(body.refresh_token))

    @get("/validate", guards=[requires()], summary="Validate the current token")
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

    @post("/logout", status_code=200, guards=[requires()], summary="Invalidate the session")
    async def logout(self, principal: Principal, auth_service: AuthService) -> Envelope[None]:
        await auth_service.logout(principal)
        return ok(None)
