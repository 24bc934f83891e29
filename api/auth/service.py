"""Login, refresh rotation, logout, and the seeding of the documented accounts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.login_backoff import LoginBackoff
from api.auth.passwords import PasswordHasher
from api.auth.permissions import ROLE_PERMISSIONS, Role
from api.auth.principal import Principal
from api.auth.schemas import TokenResponse, UserOut
from api.auth.tokens import ACCESS, REFRESH, IssuedPair, TokenClaims, TokenError, TokenService
from api.errors import ApiError, ErrorCode, validation_error
from api.users.password_rules import check_new_password
from persistence import credentials, users
from persistence.models import User
from settings import Settings

log = logging.getLogger(__name__)

DEFAULT_ACCOUNTS = (
    ("admin", "admin@example.com", Role.ADMIN, "admin_password", "admin123"),
    ("operator", "operator@example.com", Role.OPERATOR, "operator_password", "op123"),
    ("viewer", "viewer@example.com", Role.VIEWER, "viewer_password", "view123"),
)


def _as_datetime(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def user_out(user: User) -> UserOut:
    role = Role(user.role)
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        role=role.value,
        permissions=[p.value for p in ROLE_PERMISSIONS[role]],
    )


class AuthService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tokens: TokenService,
        hasher: PasswordHasher,
        backoff: LoginBackoff,
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self._hasher = hasher
        self._backoff = backoff

    def _response(self, user: User, pair: IssuedPair) -> TokenResponse:
        return TokenResponse(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=self._tokens.access_ttl,
            user=user_out(user),
        )

    async def login(self, username: str, password: str) -> TokenResponse:
        """Tokens for valid credentials; the same 401 for unknown user and wrong password.

        A username with too many recent failures is refused with 429 before
        its password is checked (see ``api.auth.login_backoff``).
        """
        await self._backoff.check(username)
        async with self._sessions() as session:
            user = await users.get_by_username(session, username)
            active = user is not None and user.is_active
            matches, new_hash = self._hasher.verify(
                password, user.password_hash if user is not None and active else None
            )
            if user is None or not active or not matches:
                await self._backoff.failed(username)
                raise ApiError(
                    401, ErrorCode.AUTHENTICATION_REQUIRED, "Invalid username or password"
                )
            await self._backoff.succeeded(username)
            if new_hash:
                user.password_hash = new_hash
                await session.commit()
            pair = self._tokens.issue(user.id, user.role, generation=user.session_generation)
            return self._response(user, pair)

    async def change_password(
        self, principal: Principal, current_password: str, new_password: str
    ) -> TokenResponse:
        """Set the caller's new password; every session it had ends, a fresh pair is answered."""
        if principal.kind != "user":
            raise ApiError(
                403, ErrorCode.INSUFFICIENT_PERMISSIONS, "An API key has no password to change"
            )
        async with self._sessions() as session, session.begin():
            user = await users.get_by_id(session, principal.id)
            if user is None or not user.is_active:
                raise ApiError(401, ErrorCode.INVALID_TOKEN, "Invalid token: unknown user")
            matches, _ = self._hasher.verify(current_password, user.password_hash)
            if not matches:
                raise validation_error("current_password", "is not the current password")
            check_new_password(new_password, user.username, "new_password")
            if new_password == current_password:
                raise validation_error("new_password", "must differ from the current password")
            user.password_hash = self._hasher.hash(new_password)
            user.session_generation += 1
            await session.flush()
            pair = self._tokens.issue(user.id, user.role, generation=user.session_generation)
            return self._response(user, pair)

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """Rotate: the used refresh token stops working; reusing it revokes its whole family."""
        try:
            claims = self._tokens.decode(refresh_token, REFRESH)
        except TokenError as exc:
            raise ApiError(401, ErrorCode.INVALID_TOKEN, f"Invalid refresh token: {exc}") from exc
        async with self._sessions() as session, session.begin():
            family_id = f"family:{claims.family}"
            if await credentials.any_revoked(session, [family_id]):
                raise ApiError(401, ErrorCode.INVALID_TOKEN, "Invalid refresh token: revoked")
            # Spending the token is the check: of concurrent uses, one inserts its id.
            first_use = await credentials.revoke(
                session, claims.jti, _as_datetime(claims.expires_at)
            )
            if first_use:
                user = await users.get_by_id(session, claims.subject)
                if user is None or not user.is_active:
                    raise ApiError(
                        401, ErrorCode.INVALID_TOKEN, "Invalid refresh token: unknown user"
                    )
                if user.session_generation != claims.generation:
                    raise ApiError(
                        401, ErrorCode.INVALID_TOKEN, "Invalid refresh token: sessions revoked"
                    )
                pair = self._tokens.issue(
                    user.id, user.role, family=claims.family, generation=user.session_generation
                )
                return self._response(user, pair)
            # A rotated refresh token came back: it may be stolen, so the whole
            # family (every token descended from that login) dies, for as long
            # as its newest member could live. Committed before the 401 below.
            await credentials.revoke(
                session, family_id, datetime.now(UTC) + timedelta(seconds=self._tokens.refresh_ttl)
            )
        log.warning("refresh token reuse detected for user %s; family revoked", claims.subject)
        raise ApiError(401, ErrorCode.INVALID_TOKEN, "Invalid refresh token: already used")

    @property
    def access_ttl(self) -> int:
        return self._tokens.access_ttl

    def renew(self, access_token: str) -> tuple[str, TokenClaims] | None:
        """A fresh access token for a verified, unexpired one, in the same token family.

        For the console's session, which slides while its user is active: the
        caller has authenticated the token (user active, not revoked, same
        session generation), so the new one ends with it at logout or
        revocation of the family. None when the token does not decode.
        """
        try:
            claims = self._tokens.decode(access_token, ACCESS)
        except TokenError:
            return None
        return self._tokens.reissue_access(claims)

    async def logout(self, principal: Principal) -> None:
        """Revoke the caller's access token and the refresh token issued with it."""
        if principal.token_id is None or principal.expires_at is None:
            return
        async with self._sessions() as session, session.begin():
            # The family outlives the access token: its refresh token lives longer.
            await credentials.revoke(
                session, principal.token_id, _as_datetime(principal.expires_at)
            )
            await credentials.revoke(
                session,
                f"family:{principal.token_family}",
                datetime.now(UTC) + timedelta(seconds=self._tokens.refresh_ttl),
            )


async def seed_default_users(
    sessions: async_sessionmaker[AsyncSession], hasher: PasswordHasher, settings: Settings
) -> None:
    """Create the documented accounts, only when no user exists at all."""
    try:
        async with sessions() as session, session.begin():
            if await users.count(session) == 0:
                for username, email, role, setting, _ in DEFAULT_ACCOUNTS:
                    await users.add(
                        session,
                        username=username,
                        email=email,
                        password_hash=hasher.hash(getattr(settings, setting)),
                        role=role,
                    )
                log.warning("seeded the default accounts admin, operator and viewer")
    except IntegrityError:
        log.info("another instance seeded the default accounts first")
    for username, _, _, setting, documented in DEFAULT_ACCOUNTS:
        if getattr(settings, setting) == documented:
            log.warning(
                "account %r uses its documented default password; set SCHEDULER_%s",
                username,
                setting.upper(),
            )
