"""Permissions of the contract and the roles that bundle them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Permission(StrEnum):
    TASK_READ = "TaskRead"
    TASK_WRITE = "TaskWrite"
    TASK_DELETE = "TaskDelete"
    WORKER_READ = "WorkerRead"
    WORKER_WRITE = "WorkerWrite"
    SYSTEM_READ = "SystemRead"
    SYSTEM_WRITE = "SystemWrite"
    ADMIN = "Admin"


class Role(StrEnum):
    ADMIN = "Admin"
    OPERATOR = "Operator"
    VIEWER = "Viewer"


ROLE_PERMISSIONS: dict[Role, tuple[Permission, ...]] = {
    Role.ADMIN: (Permission.ADMIN,),
    Role.OPERATOR: (
        Permission.TASK_READ,
        Permission.TASK_WRITE,
        Permission.WORKER_READ,
        Permission.SYSTEM_READ,
    ),
    Role.VIEWER: (Permission.TASK_READ, Permission.WORKER_READ, Permission.SYSTEM_READ),
}


def grants(held: Iterable[str], needed: Iterable[Permission]) -> bool:
    """True when ``held`` covers every permission in ``needed`` (Admin implies all)."""
    held_set = set(held)
    if Permission.ADMIN in held_set:
        return True
    return all(permission in held_set for permission in needed)


def within(own: Iterable[str], bound: Iterable[str]) -> tuple[str, ...]:
    """The permissions of ``own`` that ``bound`` also grants (an API key within its creator).

    ``Admin`` in ``own`` stands for everything, so within a non-Admin ``bound``
    it yields ``bound`` itself; within an Admin ``bound``, ``own`` is unchanged.
    """
    own_list, bound_list = list(own), [str(p) for p in bound]
    if Permission.ADMIN in bound_list:
        return tuple(own_list)
    if Permission.ADMIN in own_list:
        return tuple(bound_list)
    return tuple(p for p in own_list if p in bound_list)
