"""Colours of statuses and plan actions, one place for every table."""

from __future__ import annotations

from rich.text import Text

STATUS_STYLES = {
    "Completed": "green",
    "Failed": "red",
    "Timeout": "magenta",
    "Running": "cyan",
    "Dispatched": "blue",
    "Pending": "yellow",
    "Active": "green",
    "Inactive": "yellow",
    "Alive": "green",
    "Down": "red",
    "healthy": "green",
    "degraded": "yellow",
    "unhealthy": "red",
    "connected": "green",
    "disconnected": "red",
    "ran": "green",
    "upcoming": "dim",
    "missed": "red",
    "skipped_overlap": "yellow",
    "skipped_paused": "yellow",
}


def status(value: str | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    return Text(value, style=STATUS_STYLES.get(value, ""))
