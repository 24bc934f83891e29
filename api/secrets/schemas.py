"""Bodies and views of ``/api/secrets``: values go in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from api.body import NO_NUL
from domain.secret_refs import SecretName

SecretValue = Annotated[str, msgspec.Meta(min_length=1, max_length=65536, pattern=NO_NUL)]


class SecretCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: SecretName
    value: SecretValue


class SecretValueWrite(msgspec.Struct, forbid_unknown_fields=True):
    value: SecretValue


class SecretUser(msgspec.Struct):
    """A task that references the secret."""

    id: int
    name: str


class SecretOut(msgspec.Struct):
    name: str
    created_at: datetime
    updated_at: datetime
    used_by: list[SecretUser]
