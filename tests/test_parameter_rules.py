"""Paths resolved before the roots check, interpreters from a list, no loader environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.parameters import LOADER_ENV_NAMES, ParameterError, ParameterRules, validate_parameters
from tests.task_files import TASK_PYTHON


def refused(task_type: str, raw: dict[str, Any], rules: ParameterRules) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        validate_parameters(task_type, raw, rules)
    return info.value


def test_a_symlink_out_of_the_roots_is_outside(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    root.mkdir()
    (root / "escape").symlink_to("/etc")
    (root / "inner").symlink_to(root)
    rules = ParameterRules(allowed_paths=(str(root),))
    error = refused("python", {"script_path": f"{root}/escape/passwd"}, rules)
    assert error.field == "parameters.script_path"
    assert "resolving to '/etc/passwd'" in error.message
    for field in ("working_directory", "virtual_env"):
        raw = {"script_path": f"{root}/job.py", field: f"{root}/escape"}
        assert refused("python", raw, rules).field == f"parameters.{field}"
    raw = {"command": "ls", "working_directory": f"{root}/escape"}
    assert refused("shell", raw, rules).field == "parameters.working_directory"
    # A link that stays inside the roots is fine, and kept as written.
    fine = validate_parameters("python", {"script_path": f"{root}/inner/job.py"}, rules)
    assert fine["script_path"] == f"{root}/inner/job.py"


def test_a_root_given_through_a_symlink_still_holds(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    rules = ParameterRules(allowed_paths=(str(tmp_path / "link"),))
    validate_parameters("python", {"script_path": f"{tmp_path}/real/job.py"}, rules)


def test_python_executable_must_be_an_allowed_interpreter(tmp_path: Path) -> None:
    rules = ParameterRules(allowed_paths=(str(tmp_path),), allowed_interpreters=(TASK_PYTHON,))
    script = f"{tmp_path}/job.py"
    validate_parameters("python", {"script_path": script, "python_executable": TASK_PYTHON}, rules)
    # A virtual env's python under the roots is allowed, anywhere else is not.
    venv_python = f"{tmp_path}/venv/bin/python3"
    validate_parameters("python", {"script_path": script, "python_executable": venv_python}, rules)
    for other in ("/bin/sh", "/opt/elsewhere/bin/python", f"{tmp_path}/venv/bin/perl"):
        error = refused("python", {"script_path": script, "python_executable": other}, rules)
        assert error.field == "parameters.python_executable"
        assert "not an allowed interpreter" in error.message


def test_a_link_to_an_allowed_interpreter_is_that_interpreter(tmp_path: Path) -> None:
    (tmp_path / "py").symlink_to(TASK_PYTHON)
    rules = ParameterRules(allowed_interpreters=(TASK_PYTHON,))
    raw = {"script_path": "/srv/job.py", "python_executable": str(tmp_path / "py")}
    validate_parameters("python", raw, rules)


@pytest.mark.parametrize(
    "name",
    [*sorted(LOADER_ENV_NAMES), "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_FUNC_ls%%"],
)
def test_loader_environment_is_refused_unless_allowed(name: str) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("shell", {"command": "ls", "environment": {name: "x"}}),
        ("python", {"script_path": "/srv/job.py", "environment": {name: "x"}}),
    ]
    for task_type, raw in cases:
        error = refused(task_type, raw, ParameterRules())
        assert error.field == f"parameters.environment.{name}"
        assert "SCHEDULER_ALLOW_LOADER_ENV=1" in error.message
        validate_parameters(task_type, raw, ParameterRules(allow_loader_env=True))


def test_ordinary_environment_passes() -> None:
    environment = {"PATH": "/usr/bin", "GREETING": "hi", "PYTHONUNBUFFERED": "1", "LDAP_URI": "x"}
    validate_parameters("shell", {"command": "ls", "environment": environment}, ParameterRules())
