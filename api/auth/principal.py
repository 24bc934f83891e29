"""Who is calling: a user with a token, or an API key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.permissions import ROLE_PERMISSIONS, Role, within
from api.auth.tokens import ACCESS, TokenClaims, TokenError, TokenService
from api.errors import ApiError, ErrorCode
from persistence import credentials, users

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


@dataclass(frozen=True)
class Identity:
    """What authenticating a request found: a principal, or why there is none."""

    principal: Principal | None = None
    refusal: Exception | None = None
    """Why there is no principal: a 401 ``ApiError``, or the error (the database
    being unreachable, say) that stopped the check."""
    offline: Principal | ApiError | None = None
    """While the database is unreachable: what a user's access token says on its
    own (its role claim; revocation cannot be checked), or why it says nothing."""

    def principal_or_raise(self, *, offline_ok: bool = False) -> Principal:
        """The principal, else raise the refusal (``offline_ok``: accept ``offline``)."""
        if self.principal is not None:
            return self.principal
        if offline_ok and self.offline is not None:
            if isinstance(self.offline, ApiError):
                raise self.offline
            return self.offline
        raise self.refusal or _unauthenticated("Authentication required")

    @property
    def caller(self) -> Principal | None:
        """Whose credential verified, revocation aside: the principal, or the offline one."""
        if self.principal is not None:
            return self.principal
        return self.offline if isinstance(self.offline, Principal) else None


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

    async def identify(self, authorization: str | None) -> Identity:
        """Who sent ``authorization`` (an ``Authorization`` header's value), checked once.

        A missing, malformed, expired or revoked credential is a refusal (a 401
        ``ApiError``), never an exception; so is a database error, which then
        comes with what a user token says on its own (``Identity.offline``).
        """
        if not authorization:
            return Identity(
                refusal=_unauthenticated(
                    "Authentication required: send 'Authorization: Bearer <token>'"
                )
            )
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return Identity(
                refusal=_unauthenticated("Authorization header must be 'Bearer <token>'")
            )
        if credential.startswith(API_KEY_PREFIX):
            try:
                async with self._sessions() as session:
                    return Identity(principal=await self._api_key(session, credential))
            except (ApiError, SQLAlchemyError, OSError) as exc:
                return Identity(refusal=exc)
        try:
            claims = self._tokens.decode(credential, ACCESS)
        except TokenError as exc:
            return Identity(refusal=_invalid(f"Invalid token: {exc}"))
        try:
            async with self._reads() as session:
                return Identity(principal=await self._user_token(session, claims))
        except ApiError as exc:
            return Identity(refusal=exc)
        except (SQLAlchemyError, OSError) as exc:
            return Identity(refusal=exc, offline=self._offline(claims))

    def _offline(self, claims: TokenClaims) -> Principal | ApiError:
        try:
            role = Role(claims.role)
        except ValueError:
            return _invalid("Invalid token")
        return Principal(
            id=claims.subject,
            name=claims.subject,
            permissions=tuple(ROLE_PERMISSIONS[role]),
            kind="user",
            expires_at=claims.expires_at,
            token_id=claims.jti,
            token_family=claims.family,
        )

    async def _user_token(self, session: AsyncSession, claims: TokenClaims) -> Principal:
        user = await credentials.token_holder(
            session, claims.subject, claims.jti, f"family:{claims.family}"
        )
        if user is not None and user.revoked:
            raise _invalid("Invalid token: it has been revoked")
        if user is None or not user.is_active:
            raise _invalid("Invalid token: the user no longer exists")
        if user.session_generation != claims.generation:
            raise _invalid("Invalid token: the user's sessions were revoked")
        return Principal(
            id=user.id,
            name=user.username,
            permissions=tuple(ROLE_PERMISSIONS[Role(user.role)]),
            kind="user",
            expires_at=claims.expires_at,
            token_id=claims.jti,
            token_family=claims.family,
        )

    async def _api_key(self, session: AsyncSession, key: str) -> Principal:
        record = await credentials.api_key_by_hash(session, hash_api_key(key))
        now = datetime.now(UTC)
        if record is None or record.revoked_at is not None:
            raise _invalid("Invalid API key")
        if record.expires_at is not None and record.expires_at <= now:
            raise _invalid("API key has expired")
        # A key acts for its creator: never beyond what the creator may do now.
        creator = await users.get_by_id(session, record.created_by)
        if creator is None or not creator.is_active:
            raise _invalid("Invalid API key: its creator is no longer active")
        permissions = within(record.permissions, ROLE_PERMISSIONS[Role(creator.role)])
        if record.last_used_at is None or now - record.last_used_at > _TOUCH_EVERY:
            await credentials.touch_api_key(session, record.id, now)
            await session.commit()
        return Principal(
            id=record.id,
            name=record.name,
            permissions=permissions,
            kind="api_key",
            expires_at=int(record.expires_at.timestamp()) if record.expires_at else None,
        )
