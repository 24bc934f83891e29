"""The table of upcoming fire times (``tasks next`` and ``preview`` show the same thing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from cli.tables import table
from cli.times import relative, show_time


def next_runs(data: dict[str, Any], heading: str) -> RenderableType:
    now = datetime.now(UTC)
    zone = data.get("timezone") or "UTC"
    grid = table("#", "UTC", f"LOCAL ({zone})", "WHEN", "NOTE")
    for number, fire in enumerate(data["next_runs"], start=1):
        grid.add_row(
            str(number),
            show_time(fire["at"]),
            fire["local"].replace("T", " "),
            relative(fire["at"], now),
            Text(fire.get("note") or "", style="yellow"),
        )
    title = Text.assemble(
        (heading, "bold"),
        ("  ", ""),
        (f"{data['schedule']}", "cyan"),
        (f"  {zone} · dst_policy {data.get('dst_policy', 'cron')}", "dim"),
        ("  (paused)" if data.get("paused") else "", "yellow"),
    )
    return Group(title, grid)
