"""The custom search attributes every run carries, so the Web UI can filter by task."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from workflows import search_attribute_names as names

TASK_ID = SearchAttributeKey.for_int(names.TASK_ID)
TASK_NAME = SearchAttributeKey.for_keyword(names.TASK_NAME)
TASK_TYPE = SearchAttributeKey.for_keyword(names.TASK_TYPE)


def for_task(task_id: int, name: str, task_type: str) -> TypedSearchAttributes:
    """The typed search attributes of a run of this task."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(TASK_ID, task_id),
            SearchAttributePair(TASK_NAME, name),
            SearchAttributePair(TASK_TYPE, task_type),
        ]
    )
