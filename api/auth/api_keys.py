"""API keys: shown once at creation, stored only as a SHA-256 hash, listed and revoked."""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.principal import API_KEY_PREFIX, Principal, hash_api_key
from api.body import NO_NUL
from api.errors import ApiError, ErrorCode
from api.openapi.fields import PermissionText, UtcDateTime
from api.pagination import Page, PageRequest, page_of
from persistence import credentials
from persistence.models import ApiKey

PermissionName = Literal[
    "TaskRead",
    "TaskWrite",
    "TaskDelete",
    "WorkerRead",
    "WorkerWrite",
    "SystemRead",
    "SystemWrite",
    "Admin",
]
_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 32


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=NO_NUL)]
    permissions: Annotated[list[PermissionName], msgspec.Meta(min_length=1, max_length=8)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = 365
    """Days until the key stops working; null for a key that never expires."""


class ApiKeyCreated(msgspec.Struct):
    id: str
    api_key: str
    name: str
    permissions: list[PermissionText]
    created_at: UtcDateTime
    expires_at: UtcDateTime | None


class ApiKeyOut(msgspec.Struct):
    id: str
    name: str
    prefix: str
    permissions: list[PermissionText]
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    last_used_at: UtcDateTime | None
    revoked_at: UtcDateTime | None
    created_by: str


def api_key_out(record: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=record.id,
        name=record.name,
        prefix=record.prefix,
        permissions=list(record.permissions),
        created_at=record.created_at,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
        revoked_at=record.revoked_at,
        created_by=record.created_by,
    )


def new_secret() -> str:
    return API_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))


class ApiKeyService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, body: ApiKeyCreate, creator: Principal) -> ApiKeyCreated:
        if creator.kind != "user":
            # A leaked key must not be able to mint fresh keys that outlive its revocation.
            raise ApiError(
                403, ErrorCode.INSUFFICIENT_PERMISSIONS, "API keys are created by users, not keys"
            )
        permissions: list[str] = list(dict.fromkeys(body.permissions))
        secret = new_secret()
        now = datetime.now(UTC).replace(microsecond=0)
        expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
        async with self._sessions() as session, session.begin():
            record = await credentials.add_api_key(
                session,
                key_id=str(uuid.uuid4()),
                name=body.name.strip() or body.name,
                key_hash=hash_api_key(secret),
                prefix=secret[: len(API_KEY_PREFIX) + 4],
                permissions=permissions,
                created_by=creator.id,
                created_at=now,
                expires_at=expires,
            )
        return ApiKeyCreated(
            id=record.id,
            api_key=secret,
            name=record.name,
            permissions=permissions,
            created_at=now,
            expires_at=expires,
        )

    async def list(self, page: PageRequest) -> Page[ApiKeyOut]:
        async with self._sessions() as session:
            rows, total = await credentials.list_api_keys(session, page.offset, page.page_size)
        return page_of([api_key_out(row) for row in rows], total, page)

    async def revoke(self, key_id: str) -> None:
        not_found = ApiError(404, ErrorCode.API_KEY_NOT_FOUND, f"API key {key_id!r} not found")
        try:
            uuid.UUID(key_id)
        except ValueError:
            raise not_found from None  # ids are UUIDs: nothing else can exist
        async with self._sessions() as session, session.begin():
            record = await credentials.get_api_key(session, key_id)
            if record is None:
                raise not_found
            if record.revoked_at is None:
                record.revoked_at = datetime.now(UTC)
