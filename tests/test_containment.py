"""What a task process can reach: not the scheduler's secrets, nor past its run or its limits."""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from data_dir import tighten
from devstack import ROOT
from processes.identity import IdentityRefused, task_identity
from tests.conftest import Stack, running_stack
from tests.helpers import Api, assert_error, unique
from tests.process_family import alive
from tests.task_files import TASK_PYTHON, TASK_USER, remove, task_dir


def shell_run(api: Api, command: str) -> dict[str, object]:
    task = api.create_task(parameters={"command": command}, max_retries=0)
    return api.wait_for_run(api.trigger(task["id"]))


@pytest.mark.one_backend  # the task's process, not the database
def test_tasks_run_as_the_task_user_with_no_new_privileges(operator: Api) -> None:
    run = shell_run(operator, "id -un; grep NoNewPrivs /proc/self/status; pwd")
    assert run["status"] == "Completed", run
    user, no_new_privs, directory = str(run["result"]).splitlines()
    assert user == TASK_USER
    assert no_new_privs.split() == ["NoNewPrivs:", "1"]
    home = pwd.getpwnam(TASK_USER).pw_dir
    assert directory == (home if os.path.isdir(home) else "/")


def secret_places(stack: Stack) -> list[str]:
    """The data dir, its JWT secret, the database, and the worker's environment (its URL)."""
    places = [str(stack.data_dir), str(stack.data_dir / "jwt_secret"), "/proc/$PPID/environ"]
    if stack.backend == "sqlite":
        places.append(str(stack.data_dir / "scheduler.db"))
    return places


def test_an_operator_task_cannot_read_the_scheduler_secrets(stack: Stack, operator: Api) -> None:
    for place in secret_places(stack):
        command = f"ls {place}" if place == str(stack.data_dir) else f"cat {place}"
        run = shell_run(operator, command)
        assert run["status"] == "Failed", (place, run)
        assert "Permission denied" in str(run["error_message"]), (place, run)


def test_the_data_dir_and_its_databases_are_private(stack: Stack) -> None:
    assert stack.data_dir.stat().st_mode & 0o777 == 0o700
    databases = [p for p in stack.data_dir.iterdir() if ".db" in p.name]
    assert any(p.name == "temporal.db" for p in databases)
    if stack.backend == "sqlite":
        assert any(p.name == "scheduler.db" for p in databases)
    for path in databases:
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_existing_files_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "nested").mkdir(parents=True)
    data.chmod(0o755)
    for name in ("jwt_secret", "scheduler.db", "scheduler.db-wal", "nested/temporal.db"):
        (data / name).write_text("x")
        (data / name).chmod(0o644)
    tighten(data)
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "nested").stat().st_mode & 0o777 == 0o700
    for path in data.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o777 == 0o600, path


@pytest.mark.one_backend  # the task's process, not the database
def test_setsid_and_a_double_fork_are_gone_when_the_run_ends(admin: Api, task_tmp: Path) -> None:
    escaped, forked = task_tmp / "escaped", task_tmp / "forked"
    command = (
        f"setsid sh -c 'echo $$ > {escaped}; exec sleep 600' & "
        f"(setsid sh -c 'echo $$ > {forked}; exec sleep 600' &); "
        f"while [ ! -s {escaped} ] || [ ! -s {forked} ]; do sleep 0.05; done; echo started"
    )
    run = shell_run(admin, command)
    assert run["status"] == "Completed", run
    assert run["result"] == "started\n"
    pids = [int(escaped.read_text()), int(forked.read_text())]
    assert not any(alive(pid) for pid in pids), pids


# A root worker told to run tasks as root.


def start_shell_worker(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A shell worker started with ``env`` (and a Temporal no one answers), run to its exit."""
    return subprocess.run(
        [sys.executable, str(ROOT / "worker_main.py"), "--task-type", "shell"],
        env={"SCHEDULER_DATA_DIR": str(data_dir), "TEMPORAL_ADDRESS": "127.0.0.1:1", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_root_worker_refuses_to_run_tasks_as_root(tmp_path: Path) -> None:
    worker = start_shell_worker(
        tmp_path, {"PATH": os.environ["PATH"], "SCHEDULER_RUN_AS_USER": "root"}
    )
    assert worker.returncode == 2, worker
    assert "SCHEDULER_ALLOW_ROOT_TASKS=1" in worker.stderr


def test_a_worker_with_limits_and_no_prlimit_refuses_to_start(tmp_path: Path) -> None:
    worker = start_shell_worker(
        tmp_path,
        {"PATH": str(tmp_path), "SCHEDULER_TASK_MAX_OPEN_FILES": "64"},  # no prlimit there
    )
    assert worker.returncode == 2, worker
    assert "prlimit is not on PATH" in worker.stderr


def test_root_tasks_need_the_explicit_setting_and_are_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(IdentityRefused, match="SCHEDULER_ALLOW_ROOT_TASKS"):
        task_identity("root", allow_root_tasks=False)
    with caplog.at_level(logging.WARNING, logger="processes.identity"):
        assert task_identity("root", allow_root_tasks=True) is None
    assert "run as root" in caplog.text
    with pytest.raises(IdentityRefused, match="no such user"):
        task_identity("no-such-user-here", allow_root_tasks=False)
    nobody = task_identity(TASK_USER, allow_root_tasks=False)
    assert nobody is not None
    assert nobody.uid == pwd.getpwnam(TASK_USER).pw_uid


@pytest.mark.one_backend  # the task's process, not the database
def test_loader_environment_is_refused_with_the_field_named(admin: Api) -> None:
    response = admin.post(
        "/api/tasks",
        json={
            "name": "preloaded",
            "task_type": "shell",
            "schedule": "0 0 1 1 *",
            "parameters": {"command": "id", "environment": {"LD_PRELOAD": "/tmp/evil.so"}},
        },
    )
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "parameters.environment.LD_PRELOAD"


# Resource limits and allowed paths: a stack of their own, as they apply to every
# task of its workers.

LIMITS = {
    "SCHEDULER_TASK_MAX_CPU_SECONDS": "1",
    "SCHEDULER_TASK_MAX_MEMORY_MB": "256",
    "SCHEDULER_TASK_MAX_OPEN_FILES": "64",
    "SCHEDULER_TASK_MAX_PROCESSES": "40",
}


@pytest.fixture(scope="module")
def jobs() -> Iterator[Path]:
    """The one allowed root of the restricted stack, and a directory outside it."""
    root = task_dir("jobs-")
    yield root
    remove(root)


@pytest.fixture(scope="module")
def restricted(jobs: Path) -> Iterator[Api]:
    overrides = {**LIMITS, "SCHEDULER_ALLOWED_PATHS": str(jobs)}
    # Its tests run shell and python tasks only.
    with running_stack("sqlite", env_overrides=overrides, executors=("shell", "python")) as stack:
        api = stack.api("operator")
        yield api
        api.close()


@pytest.fixture(scope="module")
def limited(restricted: Api) -> Api:
    return restricted


def python_task(api: Api, parameters: dict[str, object]) -> httpx.Response:
    return api.post(
        "/api/tasks",
        json={
            "name": unique("py"),
            "task_type": "python",
            "schedule": "0 0 1 1 *",
            "parameters": parameters,
            "max_retries": 0,
        },
    )


def test_a_symlink_out_of_the_allowed_paths_is_refused_at_create(
    restricted: Api, jobs: Path
) -> None:
    outside = task_dir("outside-")
    try:
        (outside / "job.py").write_text("print('outside')\n")
        link = jobs / unique("escape")
        link.symlink_to(outside)
        response = python_task(restricted, {"script_path": f"{link}/job.py"})
        body = assert_error(response, 422, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == "parameters.script_path"
        assert "outside the allowed paths" in body["error"]["message"]
    finally:
        remove(outside)


def test_a_symlink_re_pointed_after_create_is_refused_on_the_worker(
    restricted: Api, jobs: Path
) -> None:
    outside = task_dir("outside-")
    release = jobs / unique("release")
    try:
        release.mkdir()
        for directory in (release, outside):
            (directory / "job.py").write_text(f"print('from {directory.name}')\n")
        current = jobs / unique("current")
        current.symlink_to(release)
        response = python_task(restricted, {"script_path": f"{current}/job.py"})
        assert response.status_code == 201, response.text
        task_id = response.json()["data"]["id"]
        run = restricted.wait_for_run(restricted.trigger(task_id))
        assert run["status"] == "Completed", run
        assert run["result"] == f"from {release.name}\n"
        current.unlink()
        current.symlink_to(outside)
        run = restricted.wait_for_run(restricted.trigger(task_id))
        assert run["status"] == "Failed", run
        assert run["error_message"].startswith("parameters.script_path: "), run
        assert "outside the allowed paths" in run["error_message"]
        assert run["retry_count"] == 0
    finally:
        remove(outside)


def test_only_allowed_interpreters_run(restricted: Api, jobs: Path) -> None:
    script = jobs / unique("job")
    script.write_text("import sys; print(sys.prefix)\n")
    response = python_task(restricted, {"script_path": str(script), "python_executable": "/bin/sh"})
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "parameters.python_executable"
    venv = jobs / "venv"
    if not venv.exists():
        subprocess.run([TASK_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    for interpreter in (TASK_PYTHON, f"{venv}/bin/python"):
        response = python_task(
            restricted, {"script_path": str(script), "python_executable": interpreter}
        )
        assert response.status_code == 201, response.text
        run = restricted.wait_for_run(restricted.trigger(response.json()["data"]["id"]))
        assert run["status"] == "Completed", run


@pytest.mark.parametrize(
    ("command", "named"),
    [
        ("while :; do :; done", "CPU time limit (SCHEDULER_TASK_MAX_CPU_SECONDS=1)"),
        (
            "python3 -c 'x = bytearray(512 * 1024 * 1024)'",
            "memory limit (SCHEDULER_TASK_MAX_MEMORY_MB=256)",
        ),
        (
            "python3 -c 'files = [open(\"/dev/null\") for _ in range(100)]'",
            "open files limit (SCHEDULER_TASK_MAX_OPEN_FILES=64)",
        ),
        (
            "for i in $(seq 80); do sleep 5 & done; wait",
            "process limit (SCHEDULER_TASK_MAX_PROCESSES=40)",
        ),
    ],
)
def test_a_task_over_a_limit_fails_naming_it(limited: Api, command: str, named: str) -> None:
    run = shell_run(limited, command)
    assert run["status"] == "Failed", run
    assert str(run["error_message"]).startswith(named), run


def test_a_task_within_the_limits_runs(limited: Api) -> None:
    run = shell_run(limited, "python3 -c 'print(sum(range(10**6)))'")
    assert run["status"] == "Completed", run
