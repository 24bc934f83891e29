"""``/ui/system``: health of the database and Temporal, the system's figures, the last 24 hours."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from api.auth.permissions import Permission
from api.console.access import signed_in
from api.console.charts import lag_quantiles, stacked_runs
from api.console.render import fragment, page
from api.system.activity import ActivityReader
from api.system.health import HealthProbe
from api.system.stats import SystemReader

PATH = "/ui/system"


async def _overview(
    health_probe: HealthProbe, system_reader: SystemReader, activity_reader: ActivityReader
) -> dict[str, Any]:
    hours = await activity_reader.last_24_hours()
    return {
        "health": await health_probe.report(),
        "stats": await system_reader.stats(),
        "runs_chart": stacked_runs(hours),
        "lag_chart": lag_quantiles(hours),
        "path": PATH,
    }


class SystemController(Controller):
    path = "/system"
    guards = [signed_in(Permission.SYSTEM_READ)]

    @get("/")
    async def system(
        self,
        request: Request[Any, Any, Any],
        health_probe: HealthProbe,
        system_reader: SystemReader,
        activity_reader: ActivityReader,
    ) -> Template:
        overview = await _overview(health_probe, system_reader, activity_reader)
        return page(request, "system/overview.html", **overview)

    @get("/fragment")
    async def system_fragment(
        self,
        request: Request[Any, Any, Any],
        health_probe: HealthProbe,
        system_reader: SystemReader,
        activity_reader: ActivityReader,
    ) -> Template:
        overview = await _overview(health_probe, system_reader, activity_reader)
        return fragment(request, "system/_live.html", **overview)
