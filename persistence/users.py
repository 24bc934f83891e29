"""Queries over users."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import User


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(User.username == username))
    return result.scalar_one_or_none()


async def get_by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def add(
    session: AsyncSession, *, username: str, email: str, password_hash: str, role: str
) -> User:
    user = User(
        id=str(uuid.uuid4()),
        username=username,
        email=email,
        password_hash=password_hash,
        role=role,
        is_active=True,
    )
    session.add(user)
    await session.flush()
    return user


async def page(session: AsyncSession, offset: int, limit: int) -> tuple[list[User], int]:
    """Users by username, one page of them, and how many there are."""
    rows = await session.scalars(select(User).order_by(User.username).offset(offset).limit(limit))
    return list(rows), await count(session)


async def active_admins(session: AsyncSession) -> int:
    query = select(func.count()).select_from(User).where(User.role == "Admin", User.is_active)
    return int(await session.scalar(query) or 0)
