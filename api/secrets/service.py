"""Secret use cases: values are sealed on the way in and never read back by the API."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import ApiError, ErrorCode
from api.pagination import Page, PageRequest, page_of
from api.secrets.schemas import SecretCreate, SecretOut, SecretUser
from persistence import secret_store
from persistence.models import Secret
from persistence.secret_sealing import SecretSealer
from persistence.secret_store import TaskUse


def _not_found(name: str) -> ApiError:
    return ApiError(404, ErrorCode.SECRET_NOT_FOUND, f"Secret {name!r} not found")


def _duplicate(name: str) -> ApiError:
    return ApiError(
        409,
        ErrorCode.DUPLICATE_SECRET_NAME,
        f"A secret named {name!r} already exists",
        {"field": "name"},
    )


def secret_out(secret: Secret, used_by: list[TaskUse]) -> SecretOut:
    return SecretOut(
        name=secret.name,
        created_at=secret.created_at,
        updated_at=secret.updated_at,
        used_by=[SecretUser(id=use.id, name=use.name) for use in used_by],
    )


class SecretService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], sealer: SecretSealer) -> None:
        self._sessions = sessions
        self._sealer = sealer

    async def create(self, body: SecretCreate) -> SecretOut:
        key_id, ciphertext = self._sealer.seal(body.name, body.value)
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            if await secret_store.get(session, body.name) is not None:
                raise _duplicate(body.name)
            secret = Secret(
                name=body.name, key_id=key_id, ciphertext=ciphertext, created_at=now, updated_at=now
            )
            session.add(secret)
            try:
                await session.flush()
            except IntegrityError as exc:  # lost a race with a create of the same name
                raise _duplicate(body.name) from exc
            used_by = (await secret_store.uses(session, {body.name})).get(body.name, [])
        return secret_out(secret, used_by)

    async def list(self, page: PageRequest) -> Page[SecretOut]:
        async with self._sessions() as session:
            rows, total = await secret_store.page(session, page.offset, page.page_size)
            uses = await secret_store.uses(session, {row.name for row in rows})
        return page_of([secret_out(row, uses.get(row.name, [])) for row in rows], total, page)

    async def set_value(self, name: str, value: str) -> SecretOut:
        """Replace the value (sealed with the current key: a rotation re-seals on write)."""
        key_id, ciphertext = self._sealer.seal(name, value)
        async with self._sessions() as session, session.begin():
            secret = await secret_store.get(session, name, for_update=True)
            if secret is None:
                raise _not_found(name)
            secret.key_id, secret.ciphertext = key_id, ciphertext
            secret.updated_at = datetime.now(UTC)
            used_by = (await secret_store.uses(session, {name})).get(name, [])
        return secret_out(secret, used_by)

    async def delete(self, name: str) -> None:
        """Delete an unreferenced secret; 409 ``SECRET_IN_USE`` names the tasks that use it."""
        async with self._sessions() as session, session.begin():
            secret = await secret_store.get(session, name, for_update=True)
            if secret is None:
                raise _not_found(name)
            used_by = (await secret_store.uses(session, {name})).get(name, [])
            if used_by:
                ids = [use.id for use in used_by]
                raise ApiError(
                    409,
                    ErrorCode.SECRET_IN_USE,
                    f"Secret {name!r} cannot be deleted: tasks {ids} reference it",
                    {"used_by": [{"id": use.id, "name": use.name} for use in used_by]},
                )
            await session.delete(secret)
