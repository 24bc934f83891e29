"""Histories recorded by earlier versions of ``TaskRunWorkflow`` still replay.

``tests/histories/`` holds one history of every path a run can take
(completed, failed after a retry, timed out, waited for a dependency and
was woken by its signal, cancelled while pending and while running),
recorded before the workflow called its activities by reference and before
its payload timestamps became ``datetime`` fields. Runs in flight across an
upgrade replay exactly these, so each must replay under the current code
with the default, sandboxed runner. (Stack traces were blanked: they carried
the recording machine's paths and play no part in replay.)

They were also recorded before payloads were signed: through the
orchestrator's signing converter they replay inside the
``SCHEDULER_PAYLOAD_ACCEPT_UNSIGNED_UNTIL`` upgrade window, and are refused
once it has passed.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from settings import Settings
from workflows.data_converter import data_converter
from workflows.task_run import TaskRunWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_run_path_was_recorded() -> None:
    assert len(HISTORIES) == 7


def _replay(path: Path, converter: DataConverter = DataConverter.default) -> BaseException | None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())

    async def replay() -> BaseException | None:
        replayer = Replayer(workflows=[TaskRunWorkflow], data_converter=converter)
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        return result.replay_failure

    return asyncio.run(replay())


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
def test_recorded_history_replays(path: Path, tmp_path: Path) -> None:
    assert _replay(path) is None
    settings = Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path)})
    window = replace(settings, payload_accept_unsigned_until=datetime.now(UTC) + timedelta(hours=1))
    assert _replay(path, data_converter(window)) is None


def test_unsigned_history_is_refused_after_the_upgrade_window(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path)})
    closed = replace(
        settings, payload_accept_unsigned_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    [completed] = [path for path in HISTORIES if path.stem == "completed"]
    # The orchestrator fails the workflow instead of completing it as its history says.
    failure = _replay(completed, data_converter(closed))
    assert failure is not None
    assert "Nondeterminism" in repr(failure)
    assert "refused workflow" in caplog.text
    assert "it carries no signature" in caplog.text
