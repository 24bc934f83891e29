"""``NAME|ID``: finding a task by its name (the API's list filter) or by its id."""

from __future__ import annotations

from typing import Any

from cli.client import ApiClient
from cli.errors import ApiFailure, CliError

PAGE_SIZE = 100


def all_pages(client: ApiClient, path: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Every item of a paginated list endpoint, page after page."""
    items: list[Any] = []
    page = 1
    while True:
        data = client.get(path, {**(params or {}), "page": page, "page_size": PAGE_SIZE})
        items.extend(data["items"])
        if page >= int(data["total_pages"]):
            return items
        page += 1


def task(client: ApiClient, ref: str) -> dict[str, Any]:
    """The task named ``ref`` exactly or, when none is, the task with id ``ref``.

    A name wins over an id: a task named ``42`` is found by that name even when
    task 42 exists too.
    """
    named = [item for item in all_pages(client, "/api/tasks", {"name": ref}) if item["name"] == ref]
    if named:
        found: dict[str, Any] = named[0]
        return found
    if ref.isdigit():
        try:
            by_id: dict[str, Any] = client.get(f"/api/tasks/{int(ref)}")
        except ApiFailure as exc:
            if exc.code not in ("TASK_NOT_FOUND", "VALIDATION_ERROR"):
                raise
        else:
            return by_id
    raise CliError(
        f"no task is named {ref!r}" + (" or has that id" if ref.isdigit() else ""),
        hint="`scheduler tasks ls` lists the tasks",
    )


def task_names(client: ApiClient) -> dict[int, str]:
    """Every task's name by id (to show dependencies and runs by name)."""
    return {item["id"]: item["name"] for item in all_pages(client, "/api/tasks")}
