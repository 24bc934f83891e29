"""The task types this build has executors for, named without their parameter schemas."""

from __future__ import annotations

SUPPORTED_TASK_TYPES = ("shell", "http", "python")
"""Task types this build has executors for; the API refuses any other. Each has
a schema in ``domain.parameters.PARAMETER_TYPES``."""
