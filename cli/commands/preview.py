"""``scheduler preview``: the fire times of a cron expression that is not a task yet."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from cyclopts import Parameter

from cli import output
from cli.connection import connect
from cli.output import OutputOption
from cli.schedule_view import next_runs


def preview(
    schedule: Annotated[str, Parameter(help='A cron expression, quoted: "0 9 * * 1-5".')],
    /,
    *,
    tz: str | None = None,
    dst_policy: Literal["cron", "strict"] = "cron",
    count: Annotated[int, Parameter(name=["-n", "--count"])] = 5,
    output_format: OutputOption = "table",
) -> int:
    """The next fire times of a cron expression, as Temporal would fire them.

    **Examples**

    ```
    scheduler preview "0 9 * * 1-5" --tz Europe/Paris
    scheduler preview "30 2 * * *" --tz America/New_York --dst-policy strict -n 10
    ```

    Parameters
    ----------
    tz
        IANA time zone of the expression (default UTC).
    dst_policy
        `cron` (Vixie cron's rules) or `strict` (Temporal's calendar).
    count
        How many fire times (1 to 100).
    """
    body: dict[str, Any] = {"schedule": schedule, "dst_policy": dst_policy, "count": count}
    if tz:
        body["timezone"] = tz
    with connect() as client:
        data = client.post("/api/schedules/preview", body)
    output.emit(data, output_format, lambda: next_runs(data, "preview"))
    return 0
