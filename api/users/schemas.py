"""Bodies and views of ``/api/users`` and ``POST /api/auth/password``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from api.body import NO_NUL
from api.openapi.fields import UtcDateTime

Username = Annotated[
    str, msgspec.Meta(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9._@+-]+$")
]
Email = Annotated[str, msgspec.Meta(max_length=255, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")]
RoleName = Literal["Admin", "Operator", "Viewer"]
Password = Annotated[str, msgspec.Meta(max_length=256, pattern=NO_NUL)]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: Password
    role: RoleName
    email: Email = ""
    active: bool = True


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change; ``password`` sets a new one (never shown)."""

    username: Username | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    role: RoleName | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    password: Password | UnsetType = UNSET


class UserView(msgspec.Struct):
    id: str
    username: str
    email: str
    role: str
    active: bool
    created_at: UtcDateTime


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password
