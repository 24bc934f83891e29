"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from typing import Annotated

import msgspec

from api.body import NO_NUL
from api.openapi.fields import PermissionText, PrincipalKindText, RoleText


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=150, pattern=NO_NUL)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class UserOut(msgspec.Struct):
    id: str
    username: str
    email: str
    role: RoleText
    permissions: list[PermissionText]


class TokenResponse(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserOut
    token_type: str = "Bearer"


class ValidateResponse(msgspec.Struct):
    valid: bool
    user_id: str
    username: str
    permissions: list[PermissionText]
    expires_at: int | None
    kind: PrincipalKindText
