"""Cron expressions both croniter and Temporal read the same way.

The accepted language is the five-field Unix form (numbers, ``*``, ``,``,
``-``, ``/`` and three-letter month and weekday names) plus the ``@hourly``
family of aliases. Anything either side would read differently (a sixth
seconds field, ``L``, ``W``, ``#``, ``?``, ``H``) is refused up front.
"""

from __future__ import annotations

import re

from croniter import croniter

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_FIELD = re.compile(
    r"^(?:[0-9*,/\-]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
    r"|SUN|MON|TUE|WED|THU|FRI|SAT)+$",
    re.IGNORECASE,
)
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")


class CronError(ValueError):
    """The expression is not one the scheduler accepts; the message says why."""


def to_temporal_cron(expression: str) -> str:
    """The five-field form of ``expression`` (aliases expanded), or raise ``CronError``."""
    text = " ".join(expression.split())
    if not text:
        raise CronError("schedule is empty")
    if text.startswith("@"):
        expanded = ALIASES.get(text.lower())
        if expanded is None:
            raise CronError(f"unknown alias {text!r}; use one of {', '.join(sorted(ALIASES))}")
        return expanded
    fields = text.split(" ")
    if len(fields) != 5:
        raise CronError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    for name, value in zip(_FIELD_NAMES, fields, strict=True):
        if not _FIELD.match(value):
            raise CronError(f"{name} field {value!r} uses syntax that is not supported")
    if not croniter.is_valid(text):
        raise CronError(f"{text!r} is not a valid cron expression")
    try:
        # is_valid accepts some out-of-range values that only fail on iteration.
        croniter(text).get_next(float)
    except (ValueError, KeyError) as exc:
        raise CronError(f"{text!r} is not a valid cron expression: {exc}") from exc
    return text
