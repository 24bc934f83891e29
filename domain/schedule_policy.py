"""A task's schedule policy: overlap, catch-up, jitter and DST, with the bounds each obeys."""

from __future__ import annotations

from enum import StrEnum

from domain.fire_times import DstPolicy

__all__ = [
    "MAX_CATCHUP_WINDOW_SECONDS",
    "MAX_JITTER_SECONDS",
    "MIN_CATCHUP_WINDOW_SECONDS",
    "DstPolicy",
    "OverlapPolicy",
]


class OverlapPolicy(StrEnum):
    """What a fire does while the task's previous run is still open (Temporal's policies)."""

    SKIP = "skip"
    BUFFER_ONE = "buffer_one"
    BUFFER_ALL = "buffer_all"
    CANCEL_OTHER = "cancel_other"
    TERMINATE_OTHER = "terminate_other"
    ALLOW_ALL = "allow_all"


MIN_CATCHUP_WINDOW_SECONDS = 10
"""Temporal's own floor (the server's ``minCatchupWindow``): it silently raises anything lower."""
MAX_CATCHUP_WINDOW_SECONDS = 7 * 86400
MAX_JITTER_SECONDS = 3600
