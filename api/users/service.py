"""Managing users (Admins): create, list, read, change, delete.

A role change, a deactivation or a new password bumps the user's
``session_generation``, which voids every token the user holds at once; the
user's API keys follow the new role by themselves (see ``api.auth.principal``).
The last active Admin can be neither demoted, deactivated nor deleted.
"""

from __future__ import annotations

import uuid

from msgspec import UNSET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.passwords import PasswordHasher
from api.errors import ApiError, ErrorCode
from api.pagination import Page, PageRequest, page_of
from api.users.password_rules import check_new_password
from api.users.schemas import UserCreate, UserPatch, UserView
from persistence import users
from persistence.models import User


def user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        email=user.email,
        role=user.role,
        active=user.is_active,
        created_at=user.created_at,
    )


def _not_found(user_id: str) -> ApiError:
    return ApiError(404, ErrorCode.USER_NOT_FOUND, f"User {user_id!r} not found")


def _duplicate(username: str) -> ApiError:
    return ApiError(409, ErrorCode.DUPLICATE_USERNAME, f"A user named {username!r} already exists")


class UserService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], hasher: PasswordHasher) -> None:
        self._sessions = sessions
        self._hasher = hasher

    async def create(self, body: UserCreate) -> UserView:
        check_new_password(body.password, body.username)
        password_hash = self._hasher.hash(body.password)
        try:
            async with self._sessions() as session, session.begin():
                if await users.get_by_username(session, body.username) is not None:
                    raise _duplicate(body.username)
                user = await users.add(
                    session,
                    username=body.username,
                    email=body.email,
                    password_hash=password_hash,
                    role=body.role,
                )
                user.is_active = body.active
                await session.flush()
                await session.refresh(user)
                return user_view(user)
        except IntegrityError as exc:  # a concurrent create of the same name won
            raise _duplicate(body.username) from exc

    async def list(self, page: PageRequest) -> Page[UserView]:
        async with self._sessions() as session:
            rows, total = await users.page(session, page.offset, page.page_size)
        return page_of([user_view(row) for row in rows], total, page)

    async def get(self, user_id: str) -> UserView:
        async with self._sessions() as session:
            return user_view(await self._find(session, user_id))

    async def patch(self, user_id: str, body: UserPatch) -> UserView:
        try:
            async with self._sessions() as session, session.begin():
                user = await self._find(session, user_id)
                revoke = False
                if body.username is not UNSET and body.username != user.username:
                    if await users.get_by_username(session, body.username) is not None:
                        raise _duplicate(body.username)
                    user.username = body.username
                if body.email is not UNSET:
                    user.email = body.email
                if body.role is not UNSET and body.role != user.role:
                    user.role = body.role
                    revoke = True
                if body.active is not UNSET and body.active != user.is_active:
                    user.is_active = body.active
                    revoke = revoke or not body.active
                if body.password is not UNSET:
                    check_new_password(body.password, user.username)
                    user.password_hash = self._hasher.hash(body.password)
                    revoke = True
                await session.flush()
                if await users.active_admins(session) == 0:
                    raise _last_admin()
                if revoke:
                    user.session_generation += 1
                await session.flush()
                await session.refresh(user)
                return user_view(user)
        except IntegrityError as exc:
            raise _duplicate(str(body.username)) from exc

    async def delete(self, user_id: str) -> None:
        async with self._sessions() as session, session.begin():
            user = await self._find(session, user_id)
            await session.delete(user)
            await session.flush()
            if await users.active_admins(session) == 0:
                raise _last_admin()

    @staticmethod
    async def _find(session: AsyncSession, user_id: str) -> User:
        try:
            uuid.UUID(user_id)
        except ValueError:
            raise _not_found(user_id) from None  # ids are UUIDs: nothing else can exist
        user = await users.get_by_id(session, user_id)
        if user is None:
            raise _not_found(user_id)
        return user


def _last_admin() -> ApiError:
    return ApiError(
        409,
        ErrorCode.LAST_ADMIN,
        "The last active Admin cannot be demoted, deactivated or deleted",
    )
