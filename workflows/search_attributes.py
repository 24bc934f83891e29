"""The custom search attributes every run carries, so the Web UI can filter by task."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

TASK_ID = SearchAttributeKey.for_int("TaskId")
TASK_NAME = SearchAttributeKey.for_keyword("TaskName")
TASK_TYPE = SearchAttributeKey.for_keyword("TaskType")

KINDS = {TASK_ID.name: "Int", TASK_NAME.name: "Keyword", TASK_TYPE.name: "Keyword"}
"""Each attribute's name and the Temporal index type it needs."""


def for_task(task_id: int, name: str, task_type: str) -> TypedSearchAttributes:
    """The typed search attributes of a run of this task."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(TASK_ID, task_id),
            SearchAttributePair(TASK_NAME, name),
            SearchAttributePair(TASK_TYPE, task_type),
        ]
    )


def dev_server_flags() -> list[str]:
    """``temporal server start-dev`` flags that pre-register the attributes."""
    flags: list[str] = []
    for name, kind in KINDS.items():
        flags += ["--search-attribute", f"{name}={kind}"]
    return flags
