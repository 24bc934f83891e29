"""Histories recorded by earlier versions of ``TaskRunWorkflow`` still replay.

``tests/histories/`` holds one history of every path a run can take
(completed, failed after a retry, timed out, waited for a dependency and
was woken by its signal, cancelled while pending and while running),
recorded before the workflow called its activities by reference and before
its payload timestamps became ``datetime`` fields. Runs in flight across an
upgrade replay exactly these, so each must replay under the current code
with the default, sandboxed runner. (Stack traces were blanked: they carried
the recording machine's paths and play no part in replay.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.task_run import TaskRunWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_run_path_was_recorded() -> None:
    assert len(HISTORIES) == 7


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())

    async def replay() -> BaseException | None:
        result = await Replayer(workflows=[TaskRunWorkflow]).replay_workflow(
            history, raise_on_replay_failure=False
        )
        return result.replay_failure

    assert asyncio.run(replay()) is None
