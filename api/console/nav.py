"""The console's main navigation: an entry shows once its page is served."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str


NAV = (
    NavItem("Tasks", "/ui/tasks"),
    NavItem("Workers", "/ui/workers"),
    NavItem("System", "/ui/system"),
)


def nav_of(app: Litestar) -> list[NavItem]:
    """The entries of ``NAV`` whose page this app serves."""
    served: dict[str, Any] = app.route_handler_method_map
    return [item for item in NAV if item.path in served]
