"""A task's definition and the snapshot a run keeps of it."""

from __future__ import annotations

from domain.tasks import OWN_FIELDS, RunDefinition, TaskDefinition

DEFINITION = TaskDefinition(
    name="nightly",
    task_type="shell",
    schedule="0 3 * * *",
    parameters={"command": "echo hi"},
    timeout_seconds=60,
    max_retries=2,
    dependencies=[4, 7],
    status="Active",
    timezone=None,
    dependency_timeout_seconds=None,
)


def test_a_runs_snapshot_keeps_its_stored_json_shape() -> None:
    # Runs already stored carry exactly these keys, in this order; reads of
    # the snapshot (e.g. "no dependencies" is the JSON text "[]") rely on it.
    assert DEFINITION.for_run().to_json() == {
        "name": "nightly",
        "task_type": "shell",
        "schedule": "0 3 * * *",
        "parameters": {"command": "echo hi"},
        "timeout_seconds": 60,
        "max_retries": 2,
        "dependencies": [4, 7],
        "dependency_timeout_seconds": 60,
    }
    assert list(DEFINITION.for_run().to_json()) == [
        "name",
        "task_type",
        "schedule",
        "parameters",
        "timeout_seconds",
        "max_retries",
        "dependencies",
        "dependency_timeout_seconds",
    ]


def test_a_snapshot_keeps_notifications_and_auto_pause_after_the_older_keys() -> None:
    subscribed = TaskDefinition(
        **{
            **DEFINITION.own_fields(),
            "dependencies": [],
            "notifications": [{"channel_id": 3, "on": ["failure"]}],
            "pause_after_failures": 3,
        }
    ).for_run()
    stored = subscribed.to_json()
    assert list(stored)[-2:] == ["notifications", "pause_after_failures"]
    assert RunDefinition.from_json(stored) == subscribed
    assert subscribed.notifies and not DEFINITION.for_run().notifies


def test_a_snapshot_keeps_the_redelivery_opt_out_only_when_set() -> None:
    opted_out = TaskDefinition(
        **{**DEFINITION.own_fields(), "dependencies": [], "redeliver_finished": True}
    ).for_run()
    stored = opted_out.to_json()
    assert list(stored)[-1] == "redeliver_finished"
    assert RunDefinition.from_json(stored).redeliver_finished is True
    assert RunDefinition.from_json(DEFINITION.for_run().to_json()).redeliver_finished is False


def test_snapshots_written_before_dependencies_existed_still_read() -> None:
    stored = {
        "name": "old",
        "task_type": "http",
        "schedule": "* * * * *",
        "parameters": {"url": "http://example.com"},
        "timeout_seconds": 30,
        "max_retries": 0,
    }
    snapshot = RunDefinition.from_json(stored)
    assert snapshot.dependencies == []
    assert snapshot.dependency_timeout_seconds == 30


def test_the_snapshot_round_trips_through_json() -> None:
    snapshot = DEFINITION.for_run()
    assert RunDefinition.from_json(snapshot.to_json()) == snapshot


def test_own_fields_are_everything_but_the_dependency_edges() -> None:
    assert "dependencies" not in OWN_FIELDS
    assert set(DEFINITION.own_fields()) == set(OWN_FIELDS)
    assert len(OWN_FIELDS) == 17
