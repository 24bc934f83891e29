"""Queries over revoked tokens and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.conflicts import insert_unless_present
from persistence.models import ApiKey, RevokedToken, User
from persistence.types import utcnow


async def any_revoked(session: AsyncSession, token_ids: list[str]) -> bool:
    found = await session.scalar(
        select(RevokedToken.jti).where(RevokedToken.jti.in_(token_ids)).limit(1)
    )
    return found is not None


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """The user an access token names, and whether the token was revoked."""

    id: str
    username: str
    role: str
    is_active: bool
    session_generation: int
    revoked: bool


# Every authenticated request runs this: one statement, built once (its cache
# key is memoized), instead of a revocation query and a user query.
_TOKEN_HOLDER = select(
    User.id,
    User.username,
    User.role,
    User.is_active,
    User.session_generation,
    exists()
    .where(
        or_(
            RevokedToken.jti == bindparam("token_id"),
            RevokedToken.jti == bindparam("family_id"),
        )
    )
    .label("revoked"),
).where(User.id == bindparam("user_id"))


async def token_holder(
    session: AsyncSession, user_id: str, token_id: str, family_id: str
) -> TokenHolder | None:
    """User ``user_id`` (None if there is none) and whether ``token_id`` or
    ``family_id`` is revoked."""
    row = (
        await session.execute(
            _TOKEN_HOLDER, {"user_id": user_id, "token_id": token_id, "family_id": family_id}
        )
    ).first()
    return None if row is None else TokenHolder(*row)


async def revoke(session: AsyncSession, token_id: str, expires_at: datetime) -> bool:
    """Remember ``token_id`` as revoked until ``expires_at`` (idempotent).

    True when this call revoked it, False when it already was: a concurrent
    transaction inserting the same id waits for this one, so exactly one wins.
    """
    values = {"jti": token_id, "expires_at": expires_at, "revoked_at": utcnow()}
    result = await session.execute(insert_unless_present(session, RevokedToken, values))
    return bool(getattr(result, "rowcount", 0))


async def purge_expired_revocations(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))


async def api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    result = await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
    return result.scalar_one_or_none()


async def touch_api_key(session: AsyncSession, key_id: str, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


async def add_api_key(
    session: AsyncSession,
    *,
    key_id: str,
    name: str,
    key_hash: str,
    prefix: str,
    permissions: list[str],
    created_by: str,
    created_at: datetime,
    expires_at: datetime | None,
) -> ApiKey:
    record = ApiKey(
        id=key_id,
        name=name,
        key_hash=key_hash,
        prefix=prefix,
        permissions=permissions,
        created_by=created_by,
        created_at=created_at,
        expires_at=expires_at,
    )
    session.add(record)
    await session.flush()
    return record


async def list_api_keys(session: AsyncSession, offset: int, limit: int) -> tuple[list[ApiKey], int]:
    total = await session.scalar(select(func.count()).select_from(ApiKey))
    rows = await session.scalars(
        select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)
