"""Who is calling: a user with a token, or an API key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.permissions import ROLE_PERMISSIONS, Role
from api.auth.tokens import ACCESS, TokenError, TokenService
from api.errors import ApiError, ErrorCode
from persistence import credentials

API_KEY_PREFIX = "sk_live_"
# Writing last_used_at on every request would make each read a write.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    permissions: tuple[str, ...]
    kind: str
    """``user`` or ``api_key``."""
    expires_at: int | None = None
    token_id: str | None = None
    token_family: str | None = None


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, ErrorCode.AUTHENTICATION_REQUIRED, message)


def _invalid(message: str) -> ApiError:
    return ApiError(401, ErrorCode.INVALID_TOKEN, message)


class Authenticator:
    def __init__(
        self,
        tokens: TokenService,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession],
    ) -> None:
        """``reads`` serve token checks; ``sessions`` API keys, whose use is written down."""
        self._tokens = tokens
        self._sessions = sessions
        self._reads = reads

    async def authenticate(
        self, authorization: str | None, *, offline_ok: bool = False
    ) -> Principal:
        """The principal behind an ``Authorization: Bearer`` header, or a 401 ``ApiError``.

        ``offline_ok``: while the database is unreachable, a user's access token
        that verifies is taken at its word (its role claim; revocation cannot be
        checked). Only the health report allows that, so it can tell the truth
        about the outage instead of failing with it.
        """
        if not authorization:
            raise _unauthenticated("Authentication required: send 'Authorization: Bearer <token>'")
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise _unauthenticated("Authorization header must be 'Bearer <token>'")
        try:
            if credential.startswith(API_KEY_PREFIX):
                async with self._sessions() as session:
                    return await self._api_key(session, credential)
            async with self._reads() as session:
                return await self._user_token(session, credential)
        except (SQLAlchemyError, OSError):
            if not offline_ok or credential.startswith(API_KEY_PREFIX):
                raise
            return self._offline(credential)

    def _offline(self, token: str) -> Principal:
        try:
            claims = self._tokens.decode(token, ACCESS)
            role = Role(claims.role)
        except (TokenError, ValueError) as exc:
            raise _invalid("Invalid token") from exc
        return Principal(
            id=claims.subject,
            name=claims.subject,
            permissions=tuple(ROLE_PERMISSIONS[role]),
            kind="user",
            expires_at=claims.expires_at,
            token_id=claims.jti,
            token_family=claims.family,
        )

    async def _user_token(self, session: AsyncSession, token: str) -> Principal:
        try:
            claims = self._tokens.decode(token, ACCESS)
        except TokenError as exc:
            raise _invalid(f"Invalid token: {exc}") from exc
        user = await credentials.token_holder(
            session, claims.subject, claims.jti, f"family:{claims.family}"
        )
        if user is not None and user.revoked:
            raise _invalid("Invalid token: it has been revoked")
        if user is None or not user.is_active:
            raise _invalid("Invalid token: the user no longer exists")
        return Principal(
            id=user.id,
            name=user.username,
            permissions=tuple(ROLE_PERMISSIONS[Role(user.role)]),
            kind="user",
            expires_at=claims.expires_at,
            token_id=claims.jti,
            token_family=claims.family,
        )

    async def api_key_is_live(self, key: str) -> bool:
        """Whether ``key`` is a stored, unrevoked, unexpired key (read only)."""
        async with self._reads() as session:
            record = await credentials.api_key_by_hash(session, hash_api_key(key))
        return (
            record is not None
            and record.revoked_at is None
            and (record.expires_at is None or record.expires_at > datetime.now(UTC))
        )

    async def _api_key(self, session: AsyncSession, key: str) -> Principal:
        record = await credentials.api_key_by_hash(session, hash_api_key(key))
        now = datetime.now(UTC)
        if record is None or record.revoked_at is not None:
            raise _invalid("Invalid API key")
        if record.expires_at is not None and record.expires_at <= now:
            raise _invalid("API key has expired")
        if record.last_used_at is None or now - record.last_used_at > _TOUCH_EVERY:
            await credentials.touch_api_key(session, record.id, now)
            await session.commit()
        return Principal(
            id=record.id,
            name=record.name,
            permissions=tuple(record.permissions),
            kind="api_key",
            expires_at=int(record.expires_at.timestamp()) if record.expires_at else None,
        )
