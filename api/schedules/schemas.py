"""Bodies of the schedule preview endpoints (``/api/tasks/{id}/schedule``, ``/api/schedules``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from api.tasks.schemas import Cron, DstPolicyName, OverlapPolicyName, TimeZone

PreviewCount = Annotated[int, msgspec.Meta(ge=1, le=100)]


class NextRun(msgspec.Struct):
    at: datetime
    """UTC."""
    local: str
    """ISO 8601 with the offset, in the schedule's zone."""
    note: str | None
    """Why this fire is shifted, or is one pass of a repeated hour; null for an ordinary fire."""


class TaskScheduleOut(msgspec.Struct):
    schedule: str
    timezone: str | None
    dst_policy: str
    paused: bool
    next_runs: list[NextRun]


class PreviewIn(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/schedules/preview``."""

    schedule: Cron
    timezone: TimeZone | None = None
    dst_policy: DstPolicyName = "cron"
    count: PreviewCount = 10
    after: datetime | None = None
    """RFC 3339; default now."""


class PreviewOut(msgspec.Struct):
    schedule: str
    timezone: str | None
    dst_policy: str
    next_runs: list[NextRun]


class BackfillIn(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/tasks/{id}/backfill``: run the fires of ``[start, end]``."""

    start: datetime
    end: datetime
    overlap_policy: OverlapPolicyName | None = None
    """Default ``buffer_all``: every fire of the range runs, one after another."""


class BackfillOut(msgspec.Struct):
    fires: int
    start: datetime
    end: datetime
