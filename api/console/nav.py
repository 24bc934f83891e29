"""The console's main navigation: an entry shows once its page is served."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    also: tuple[str, ...] = ()
    """Other path prefixes that belong to this entry (a task's runs belong to Tasks)."""

    def holds(self, path: str) -> bool:
        return any(path.startswith(prefix) for prefix in (self.path, *self.also))


NAV = (
    NavItem("Tasks", "/ui/tasks", also=("/ui/runs",)),
    NavItem("Workers", "/ui/workers"),
    NavItem("System", "/ui/system"),
)


def nav_of(app: Litestar) -> list[NavItem]:
    """The entries of ``NAV`` whose page this app serves."""
    served: dict[str, Any] = app.route_handler_method_map
    return [item for item in NAV if item.path in served]
