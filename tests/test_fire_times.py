"""The one fire-time function: Vixie cron's rules, and Temporal's own matching times."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow, ScheduleSpec
from temporalio.client import ScheduleState as TemporalScheduleState

from domain.dst_corrections import offset_changes
from domain.fire_times import DstPolicy, FireTime, fire_times
from tests.dev_server import DevServer
from workflows.schedule_spec import fire_specs

NEW_YORK, BERLIN = "America/New_York", "Europe/Berlin"
DST_CRONS = ("30 2 * * *", "30 1 * * *", "*/30 * * * *")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def between(
    schedule: str, timezone: str | None, policy: DstPolicy, start: str, end: str
) -> list[FireTime]:
    return fire_times(schedule, timezone, policy, after=utc(start), until=utc(end))


def times(fires: list[FireTime]) -> list[str]:
    return [f"{fire.at:%m-%dT%H:%M}" for fire in fires]


def test_cron_policy_runs_a_skipped_fixed_time_once_right_after_the_jump() -> None:
    fires = between("30 2 * * *", NEW_YORK, DstPolicy.CRON, "2026-03-07T00:00", "2026-03-10T00:00")
    # 02:30 EST, then 03:00 EDT (the jump), then 02:30 EDT.
    assert times(fires) == ["03-07T07:30", "03-08T07:00", "03-09T06:30"]
    assert fires[0].note is None
    assert fires[1].note is not None and "does not exist" in fires[1].note
    strict = between(
        "30 2 * * *", NEW_YORK, DstPolicy.STRICT, "2026-03-07T00:00", "2026-03-10T00:00"
    )
    assert times(strict) == ["03-07T07:30", "03-09T06:30"]


def test_cron_policy_runs_a_repeated_fixed_time_once_at_its_first_occurrence() -> None:
    fires = between("30 1 * * *", NEW_YORK, DstPolicy.CRON, "2026-10-31T12:00", "2026-11-02T12:00")
    assert times(fires) == ["11-01T05:30", "11-02T06:30"]
    assert fires[0].note is not None and "first occurrence only" in fires[0].note
    strict = between(
        "30 1 * * *", NEW_YORK, DstPolicy.STRICT, "2026-10-31T12:00", "2026-11-02T12:00"
    )
    assert times(strict) == ["11-01T05:30", "11-01T06:30", "11-02T06:30"]


def test_wildcard_jobs_follow_the_clock_across_both_changes() -> None:
    spring = between(
        "*/30 * * * *", NEW_YORK, DstPolicy.CRON, "2026-03-08T06:00", "2026-03-08T08:00"
    )
    assert times(spring) == ["03-08T06:30", "03-08T07:00", "03-08T07:30", "03-08T08:00"]
    autumn = between("*/30 * * * *", BERLIN, DstPolicy.CRON, "2026-10-24T23:45", "2026-10-25T02:00")
    # Every 30 real minutes through the repeated 02:00-03:00 hour, both passes.
    assert times(autumn) == [
        "10-25T00:00",
        "10-25T00:30",
        "10-25T01:00",
        "10-25T01:30",
        "10-25T02:00",
    ]
    # Temporal's calendar by itself drops two of them east of Greenwich.
    strict = between(
        "*/30 * * * *", BERLIN, DstPolicy.STRICT, "2026-10-24T23:45", "2026-10-25T02:00"
    )
    assert times(strict) == ["10-25T00:00", "10-25T01:30", "10-25T02:00"]


def test_strict_berlin_fires_a_repeated_fixed_time_only_at_its_second_pass() -> None:
    strict = between("30 2 * * *", BERLIN, DstPolicy.STRICT, "2026-10-24T12:00", "2026-10-25T12:00")
    assert times(strict) == ["10-25T01:30"]
    assert strict[0].note is not None and "second pass only" in strict[0].note
    cron = between("30 2 * * *", BERLIN, DstPolicy.CRON, "2026-10-24T12:00", "2026-10-25T12:00")
    assert times(cron) == ["10-25T00:30"]


def test_count_and_range_and_the_years_temporal_knows() -> None:
    first = fire_times("0 12 * * *", None, DstPolicy.CRON, after=utc("2026-12-01T12:00"), count=3)
    assert times(first) == ["12-02T12:00", "12-03T12:00", "12-04T12:00"]
    both = fire_times(
        "0 12 * * *", None, DstPolicy.CRON, after=utc("2026-12-01T00:00"),
        until=utc("2026-12-03T12:00"), count=10,
    )  # fmt: skip
    assert times(both) == ["12-01T12:00", "12-02T12:00", "12-03T12:00"]
    assert fire_times("0 0 1 1 *", "UTC", DstPolicy.STRICT, after=utc("2100-06-01"), count=1) == []
    assert fire_times("0 0 1 1 *", "UTC", DstPolicy.CRON, after=utc("2100-06-01"), count=1) == []
    early = fire_times("0 0 1 1 *", "UTC", DstPolicy.CRON, after=utc("1990-01-01"), count=1)
    assert early[0].at == utc("2000-01-01T00:00")
    with pytest.raises(ValueError, match="until, count"):
        fire_times("0 0 * * *", None, DstPolicy.CRON, after=utc("2026-01-01"))


async def _matching_times(
    client: Client, schedule_id: str, start: datetime, end: datetime
) -> list[datetime]:
    first, last = Timestamp(), Timestamp()
    first.FromDatetime(start)
    last.FromDatetime(end)
    answer = await client.workflow_service.list_schedule_matching_times(
        ListScheduleMatchingTimesRequest(
            namespace=client.namespace, schedule_id=schedule_id, start_time=first, end_time=last
        )
    )
    return [moment.ToDatetime(tzinfo=UTC) for moment in answer.start_time]


async def _temporal_fires(
    client: Client, spec: ScheduleSpec | None, windows: list[tuple[datetime, datetime]]
) -> list[list[datetime]]:
    """What Temporal matches for ``spec`` in each window (a paused schedule that starts nothing)."""
    if spec is None:
        return [[] for _ in windows]
    schedule_id = f"fire-times-{uuid.uuid4().hex[:12]}"
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow("Nothing", id=schedule_id, task_queue="nowhere"),
            spec=spec,
            state=TemporalScheduleState(paused=True),
        ),
    )
    try:
        return [await _matching_times(client, schedule_id, a, b) for a, b in windows]
    finally:
        await handle.delete()


def _transition_windows(timezone: str, years: tuple[int, ...]) -> list[tuple[datetime, datetime]]:
    changes = [datetime.fromtimestamp(t, UTC) for t in offset_changes(timezone)]
    return [
        (change - timedelta(hours=30), change + timedelta(hours=30))
        for change in changes
        if change.year in years
    ]


@pytest.fixture(scope="module")
def namespace(dev_server: DevServer) -> str:
    return dev_server.take_namespace()


@pytest.mark.parametrize("policy", list(DstPolicy))
@pytest.mark.parametrize("timezone", [NEW_YORK, BERLIN])
def test_temporal_fires_exactly_the_previewed_times(
    dev_server: DevServer, namespace: str, timezone: str, policy: DstPolicy
) -> None:
    """Over the 2026 and 2027 changes, Temporal's matching times are fire_times' (both policies)."""
    windows = _transition_windows(timezone, (2026, 2027))
    assert len(windows) == 4

    async def check() -> None:
        client = await Client.connect(dev_server.address, namespace=namespace)
        for schedule in DST_CRONS:
            specs = fire_specs(schedule, timezone, policy)
            native = await _temporal_fires(client, specs.native, windows)
            companion = await _temporal_fires(client, specs.companion, windows)
            for (start, end), ours, theirs in zip(windows, native, companion, strict=True):
                expected = [
                    fire.at
                    for fire in fire_times(schedule, timezone, policy, after=start, until=end)
                ]
                assert sorted(ours + theirs) == expected, (schedule, start)
                assert not set(ours) & set(theirs), (schedule, start)

    asyncio.run(check())
