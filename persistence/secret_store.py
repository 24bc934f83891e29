"""Queries over named secrets, and over the tasks that reference them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.secret_refs import referenced_names
from persistence.models import Secret, Task


@dataclass(frozen=True, slots=True)
class TaskUse:
    """A task whose parameters reference a secret."""

    id: int
    name: str


async def get(session: AsyncSession, name: str, *, for_update: bool = False) -> Secret | None:
    return await session.get(Secret, name, with_for_update=for_update)


async def page(session: AsyncSession, offset: int, limit: int) -> tuple[list[Secret], int]:
    total = await session.scalar(select(func.count()).select_from(Secret))
    rows = await session.scalars(select(Secret).order_by(Secret.name).offset(offset).limit(limit))
    return list(rows), int(total or 0)


async def with_names(session: AsyncSession, names: Collection[str]) -> dict[str, Secret]:
    if not names:
        return {}
    rows = await session.scalars(select(Secret).where(Secret.name.in_(sorted(names))))
    return {row.name: row for row in rows}


async def missing(session: AsyncSession, names: Collection[str]) -> list[str]:
    """The ones of ``names`` that name no secret, sorted."""
    if not names:
        return []
    found = set(await session.scalars(select(Secret.name).where(Secret.name.in_(sorted(names)))))
    return sorted(set(names) - found)


async def uses(
    session: AsyncSession, names: Collection[str] | None = None
) -> dict[str, list[TaskUse]]:
    """The tasks referencing each secret (of ``names``; None: of every secret), by task id.

    References live inside each task's parameters (JSON, whose querying differs
    per backend), so the parameters are read and searched here.
    """
    found: dict[str, list[TaskUse]] = defaultdict(list)
    rows = await session.execute(select(Task.id, Task.name, Task.parameters).order_by(Task.id))
    for task_id, task_name, parameters in rows:
        for name in referenced_names(parameters or {}):
            if names is None or name in names:
                found[name].append(TaskUse(task_id, task_name))
    return dict(found)
