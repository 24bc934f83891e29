"""Python tasks end to end, and the path rules enforced at create time and on the worker."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from persistence.database import create_engine, create_sessionmaker
from persistence.models import Task
from tests.conftest import Stack
from tests.helpers import Api, assert_error
from tests.task_files import TASK_PYTHON

# The executors and the worker processes behave alike on either database (the
# mirror's SQL has its own tests on both): once, on Postgres when available.
pytestmark = pytest.mark.one_backend

SCRIPT = """
import os, sys
print("args=" + ",".join(sys.argv[1:]))
print("greeting=" + os.environ.get("GREETING", ""))
print("prefix=" + sys.prefix)
print("venv=" + os.environ.get("VIRTUAL_ENV", ""))
print("cwd=" + os.getcwd())
"""


def write_script(stack: Stack, name: str, text: str) -> Path:
    path = stack.task_dir / name
    path.write_text(text)
    return path


def python_task(api: Api, **parameters: Any) -> dict[str, Any]:
    retries = parameters.pop("max_retries", 0)
    return api.create_task(task_type="python", parameters=parameters, max_retries=retries)


def lines(result: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in result.splitlines() if "=" in line)


def test_script_with_arguments_environment_and_directory(stack: Stack, admin: Api) -> None:
    script = write_script(stack, "report.py", SCRIPT)
    task = python_task(
        admin,
        script_path=str(script),
        arguments=["--input", "data.csv", "two words", "$(not expanded)"],
        environment={"GREETING": "hello"},
        working_directory=str(stack.task_dir),
        python_executable=TASK_PYTHON,
    )
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed", run
    seen = lines(run["result"])
    assert seen["args"] == "--input,data.csv,two words,$(not expanded)"
    assert seen["greeting"] == "hello"
    assert seen["cwd"] == str(stack.task_dir)
    assert seen["venv"] == ""


def test_virtual_env_supplies_interpreter_and_environment(stack: Stack, admin: Api) -> None:
    venv = stack.task_dir / "task-venv"
    if not venv.exists():
        subprocess.run([TASK_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    script = write_script(stack, "in_venv.py", SCRIPT)
    task = python_task(admin, script_path=str(script), virtual_env=str(venv))
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed", run
    seen = lines(run["result"])
    assert seen["prefix"] == str(venv)
    assert seen["venv"] == str(venv)


def test_failing_script_reports_the_traceback(stack: Stack, admin: Api) -> None:
    script = write_script(
        stack, "broken.py", "print('starting')\nraise ValueError('bad input row 7')\n"
    )
    task = python_task(admin, script_path=str(script), max_retries=1)
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed"
    assert run["retry_count"] == 1
    assert run["error_message"].startswith("exit code 1")
    assert "ValueError: bad input row 7" in run["error_message"]
    assert run["result"] == "starting\n"


def test_missing_script_fails_without_retry(stack: Stack, admin: Api) -> None:
    task = python_task(admin, script_path=str(stack.task_dir / "nope.py"), max_retries=3)
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed"
    assert "does not exist" in run["error_message"]
    assert run["retry_count"] == 0


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"script_path": "relative/job.py"}, "parameters.script_path"),
        ({"script_path": "/srv/../etc/job.py"}, "parameters.script_path"),
        ({"script_path": "/srv/job.py\x00"}, "parameters.script_path"),
        ({"script_path": "/srv/job.py", "arguments": "--all"}, "parameters.arguments"),
        ({"script_path": "/srv/job.py", "arguments": [1]}, "parameters.arguments[0]"),
        (
            {
                "script_path": "/srv/job.py",
                "python_executable": "/usr/bin/python3",
                "virtual_env": "/venv",
            },
            "parameters.virtual_env",
        ),
        ({"script_path": "/srv/job.py", "virtual_env": "venv"}, "parameters.virtual_env"),
        (
            {"script_path": "/srv/job.py", "python_executable": "python3"},
            "parameters.python_executable",
        ),
        (
            {"script_path": "/srv/job.py", "working_directory": "../x"},
            "parameters.working_directory",
        ),
        ({"script_path": "/srv/job.py", "interpreter": "/x"}, "parameters.interpreter"),
        ({"arguments": []}, "parameters.script_path"),
    ],
)
def test_bad_python_parameters_are_refused(
    admin: Api, parameters: dict[str, Any], field: str
) -> None:
    response = admin.post(
        "/api/tasks",
        json={
            "name": "bad-python",
            "task_type": "python",
            "schedule": "0 0 1 1 *",
            "parameters": parameters,
        },
    )
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == field


def set_parameters_behind_the_api(stack: Stack, task_id: int, parameters: dict[str, Any]) -> None:
    async def main() -> None:
        engine = create_engine(stack.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await session.execute(
                    update(Task).where(Task.id == task_id).values(parameters=parameters)
                )
        finally:
            await engine.dispose()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("task_type", "unsafe"),
    [
        ("python", {"script_path": "/srv/../etc/passwd"}),
        ("python", {"script_path": "scripts/job.py"}),
        ("shell", {"command": "id", "shell": "/usr/bin/python3"}),
        ("shell", {"command": "id", "working_directory": "/tmp/../etc"}),
    ],
)
def test_worker_refuses_unsafe_parameters_written_behind_the_api(
    stack: Stack, admin: Api, task_type: str, unsafe: dict[str, Any]
) -> None:
    script = write_script(stack, "fine.py", "print('fine')\n")
    safe = {"script_path": str(script)} if task_type == "python" else {"command": "echo fine"}
    task = admin.create_task(task_type=task_type, parameters=safe, max_retries=2)
    set_parameters_behind_the_api(stack, task["id"], unsafe)
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed", run
    assert run["error_message"].startswith("parameters.")
    assert run["retry_count"] == 0
    assert run["result"] is None
