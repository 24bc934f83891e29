"""The command tree parses what the README says, and refuses the rest with exit code 64."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli.app import build, run_command
from cli.commands import apply, export, login, preview, run, runs, status, tasks, workers
from cli.errors import EXIT_USAGE


def parsed(*argv: str) -> tuple[Any, dict[str, Any]]:
    command, bound, _ = build().parse_args(list(argv))
    return command, dict(bound.arguments)


@pytest.mark.parametrize(
    ("argv", "command", "arguments"),
    [
        (
            ["login", "--url", "http://h:1", "-u", "alice"],
            login.login,
            {"url": "http://h:1", "username": "alice"},
        ),
        (
            ["tasks", "ls", "--status", "Active", "--type", "shell", "--name", "rep"],
            tasks.list_tasks,
            {"status": "Active", "task_type": "shell", "name": "rep"},
        ),
        (
            ["tasks", "get", "extract", "-o", "yaml"],
            tasks.get_task,
            {"ref": "extract", "output_format": "yaml"},
        ),
        (["tasks", "pause", "a", "b"], tasks.pause, {"refs": ("a", "b")}),
        (["tasks", "rm", "a", "--yes"], tasks.remove, {"refs": ("a",), "yes": True}),
        (["tasks", "next", "a", "-n", "3"], tasks.next_fires, {"ref": "a", "count": 3}),
        (["tasks", "fires", "a", "--since", "7d"], tasks.fires, {"ref": "a", "since": "7d"}),
        (
            ["tasks", "backfill", "a", "--from", "3d", "--to", "1d"],
            tasks.backfill,
            {"ref": "a", "start": "3d", "end": "1d"},
        ),
        (
            ["run", "a", "--wait", "--idempotency-key", "k1"],
            run.run,
            {"name": "a", "wait": True, "idempotency_key": "k1"},
        ),
        (
            ["runs", "ls", "a", "--status", "Failed"],
            runs.list_runs,
            {"name": "a", "status": "Failed"},
        ),
        (["runs", "get", "7"], runs.get_run, {"run_id": 7}),
        (["runs", "cancel", "7"], runs.cancel, {"run_id": 7}),
        (["runs", "logs", "7"], runs.logs, {"run_id": 7}),
        (["workers", "ls", "-o", "json"], workers.list_workers, {"output_format": "json"}),
        (["status"], status.status, {}),
        (
            ["apply", "-f", "t.yaml", "--prune", "--dry-run", "--yes"],
            apply.apply,
            {"prune": True, "dry_run": True, "yes": True},
        ),
        (["export"], export.export, {}),
        (
            ["preview", "0 9 * * 1-5", "--tz", "Europe/Paris", "-n", "3"],
            preview.preview,
            {"schedule": "0 9 * * 1-5", "tz": "Europe/Paris", "count": 3},
        ),
    ],
)
def test_commands_parse(argv: list[str], command: Any, arguments: dict[str, Any]) -> None:
    found, bound = parsed(*argv)
    assert found is command
    for key, value in arguments.items():
        assert bound[key] == value, key


def test_apply_reads_the_file_option_as_a_path() -> None:
    _, bound = parsed("apply", "-f", "jobs/")
    assert str(bound["file"]) == "jobs"


@pytest.mark.parametrize(
    "argv",
    [
        ["tasks", "ls", "--status", "Sleeping"],
        ["run"],
        ["run", "a", "--frobnicate"],
        ["runs", "get", "not-a-number"],
        ["apply"],
        ["tasks", "ls", "-o", "xml"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_64(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(argv) == EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["login"],
        ["tasks", "ls"],
        ["tasks", "get"],
        ["tasks", "pause"],
        ["tasks", "resume"],
        ["tasks", "rm"],
        ["tasks", "next"],
        ["tasks", "fires"],
        ["tasks", "backfill"],
        ["run"],
        ["runs", "ls"],
        ["runs", "get"],
        ["runs", "cancel"],
        ["runs", "logs"],
        ["workers", "ls"],
        ["status"],
        ["apply"],
        ["export"],
        ["preview"],
    ],
)
def test_every_command_has_help_with_examples(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command([*argv, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Examples" in text
    assert "scheduler " in text
    if argv not in ([], ["tasks"]):
        assert "--output" in text


def test_prune_with_a_file_of_no_tasks_is_refused_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("tasks: []\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path), "SCHEDULER_URL": "http://127.0.0.1:9"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert run_command(["apply", "-f", str(empty), "--prune", "--yes"]) == 1
    assert "would delete every task" in capsys.readouterr().err
