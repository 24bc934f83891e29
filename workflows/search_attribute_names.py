"""The names and index types of the search attributes every run carries, without Temporal's SDK.

``devstack.py`` reads them to start the dev server, and it supervises the
stack for hours: it should not hold the SDK's memory for a list of flags.
"""

from __future__ import annotations

TASK_ID = "TaskId"
TASK_NAME = "TaskName"
TASK_TYPE = "TaskType"

KINDS = {TASK_ID: "Int", TASK_NAME: "Keyword", TASK_TYPE: "Keyword"}
"""Each attribute's name and the Temporal index type it needs."""


def dev_server_flags() -> list[str]:
    """``temporal server start-dev`` flags that pre-register the attributes."""
    flags: list[str] = []
    for name, kind in KINDS.items():
        flags += ["--search-attribute", f"{name}={kind}"]
    return flags
