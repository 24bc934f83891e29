"""Direct reads and writes of the credential tables, for what the API never shows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence import users
from persistence.database import create_engine, create_sessionmaker
from persistence.models import ApiKey, RevokedToken, User

T = TypeVar("T")


class HasDatabase(Protocol):
    """A stack or an in-process app: anything with the URL of the database it serves."""

    @property
    def database_url(self) -> str: ...


def with_sessions(
    stack: HasDatabase,
    work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]],
    *,
    autocommit: bool = False,
) -> T:
    """Run ``work`` with sessions on the stack's database (``autocommit`` as the
    workers' mirror writes use them)."""

    async def main() -> T:
        engine = create_engine(stack.database_url)
        try:
            return await work(create_sessionmaker(engine, autocommit=autocommit))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def revocation_expiry(stack: HasDatabase, token_id: str) -> datetime | None:
    """When the revocation of ``token_id`` (a jti or ``family:<id>``) may be purged."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> datetime | None:
        async with sessions() as session:
            row = await session.get(RevokedToken, token_id)
            return None if row is None else row.expires_at

    return with_sessions(stack, work)


def add_revocation(stack: HasDatabase, token_id: str, expires_at: datetime) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            session.add(RevokedToken(jti=token_id, expires_at=expires_at, revoked_at=expires_at))

    with_sessions(stack, work)


def api_key_row(stack: HasDatabase, key_id: str) -> dict[str, Any]:
    """Every column of one ``api_keys`` row, by column name."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        async with sessions() as session:
            row = (
                (await session.execute(select(ApiKey.__table__).where(ApiKey.id == key_id)))
                .mappings()
                .one()
            )
            return dict(row)

    return with_sessions(stack, work)


def set_api_key_expiry(stack: HasDatabase, key_id: str, expires_at: datetime) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await session.execute(
                update(ApiKey).where(ApiKey.id == key_id).values(expires_at=expires_at)
            )

    with_sessions(stack, work)


def password_hash(stack: HasDatabase, username: str) -> str:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
        async with sessions() as session:
            value = await session.scalar(
                select(User.password_hash).where(User.username == username)
            )
            assert value is not None, username
            return value

    return with_sessions(stack, work)


def add_user(stack: HasDatabase, username: str, password_hash: str, role: str = "Viewer") -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await users.add(
                session,
                username=username,
                email=f"{username}@example.com",
                password_hash=password_hash,
                role=role,
            )

    with_sessions(stack, work)


def set_user(stack: HasDatabase, username: str, **values: Any) -> None:
    """Change a user's row directly (``role``, ``is_active``), as another API instance would."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await session.execute(update(User).where(User.username == username).values(**values))

    with_sessions(stack, work)


def delete_user(stack: HasDatabase, username: str) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            user = await users.get_by_username(session, username)
            assert user is not None, username
            await session.delete(user)

    with_sessions(stack, work)
