"""The field rules of a task definition beyond its schema, shared by task create, PUT, PATCH
and apply.

Every rule is checked, not only up to the first broken one: a single task
write answers the first problem, an apply lists them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from api.errors import ApiError, ErrorCode, validation_error
from api.schedules.rules import check_schedule, check_timezone
from api.tasks.schemas import Subscription, TaskFields
from domain.notifications import SUBSCRIBABLE_EVENTS
from domain.parameters import ParameterError, ParameterRules, validate_parameters
from domain.schedule_policy import MAX_CATCHUP_WINDOW_SECONDS, MIN_CATCHUP_WINDOW_SECONDS
from domain.task_types import SUPPORTED_TASK_TYPES


def canonical_fields(
    body: TaskFields, rules: ParameterRules
) -> tuple[dict[str, Any], list[ApiError]]:
    """The body's fields in canonical form, and every rule they break, in field order.

    Canonical: the name trimmed, the schedule's white space folded, the
    parameters as their task type's schema writes them (defaults left out),
    the notification subscriptions as stored (``canonical_subscriptions``).
    Other fields, ``dependencies`` included, are returned as given.
    """
    problems: list[ApiError] = []
    name = body.name.strip()
    if not name:
        problems.append(validation_error("name", "must not be blank"))
    supported = body.task_type in SUPPORTED_TASK_TYPES
    if not supported:
        problems.append(
            ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                f"task_type: unsupported task type {body.task_type!r}; "
                f"supported: {', '.join(SUPPORTED_TASK_TYPES)}",
                {"field": "task_type", "supported": list(SUPPORTED_TASK_TYPES)},
            )
        )
    _collect(problems, lambda: check_schedule(body.schedule))
    _collect(problems, lambda: check_timezone(body.timezone))
    _collect(problems, lambda: _check_catchup_window(body.catchup_window_seconds))
    notifications: list[Any] = list(body.notifications)
    try:
        notifications = canonical_subscriptions(body.notifications)
    except ApiError as exc:
        problems.append(exc)
    parameters = body.parameters
    if supported:
        try:
            parameters = validate_parameters(body.task_type, body.parameters, rules)
        except ParameterError as exc:
            problems.append(validation_error(exc.field, exc.message))
    fields = msgspec.structs.asdict(body)
    fields.update(
        name=name,
        schedule=" ".join(body.schedule.split()),
        parameters=parameters,
        notifications=notifications,
    )
    return fields, problems


def canonical_subscriptions(items: list[Subscription] | list[dict[str, Any]]) -> list[Any]:
    """Subscriptions as stored: ``{"channel_id", "on"}`` with each event once, in the
    order of ``domain.notifications.SUBSCRIBABLE_EVENTS``; a channel listed twice is a 422."""
    stored: list[Any] = []
    seen: set[int] = set()
    for index, item in enumerate(items):
        subscription = (
            item if isinstance(item, Subscription) else msgspec.convert(item, Subscription)
        )
        if subscription.channel_id in seen:
            raise validation_error(
                f"notifications[{index}].channel_id",
                f"channel {subscription.channel_id} is listed twice; give it one entry",
            )
        seen.add(subscription.channel_id)
        on = set(subscription.on)
        stored.append(
            {
                "channel_id": subscription.channel_id,
                "on": [event for event in SUBSCRIBABLE_EVENTS if event in on],
            }
        )
    return stored


def _collect(problems: list[ApiError], check: Callable[[], None]) -> None:
    try:
        check()
    except ApiError as exc:
        problems.append(exc)


def _check_catchup_window(window: int | None) -> None:
    if window is not None and not (
        MIN_CATCHUP_WINDOW_SECONDS <= window <= MAX_CATCHUP_WINDOW_SECONDS
    ):
        raise validation_error(
            "catchup_window_seconds",
            f"must be between {MIN_CATCHUP_WINDOW_SECONDS} (Temporal's minimum catch-up "
            f"window) and {MAX_CATCHUP_WINDOW_SECONDS} seconds, got {window}",
        )
