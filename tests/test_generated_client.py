"""A client generated from ``/schema`` works against the live API.

``openapi-python-client`` builds a package from the served document in a
temporary directory; the test imports it from there and uses it as a client
of the scheduler would: log in, create a task, read it back, see a documented
error, delete the task. The client raises on any status the document does not
declare, and parses every body with the models the document defines.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.helpers import PASSWORDS, unique

pytestmark = pytest.mark.one_backend

PACKAGE = "scheduler_client"


@pytest.fixture
def client_package(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """Generate the client package into ``tmp_path`` and make it importable."""
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{stack.base_url}/schema/openapi.json").content)
    bin_dir = Path(sys.executable).parent
    generated = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        # The generator formats its output with ruff, which lives beside it.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # Every schema of the document became a model: nothing was skipped as unreadable.
    assert "Warning" not in generated.stdout, generated.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        yield PACKAGE
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def part(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


def test_a_generated_client_logs_in_creates_a_task_and_reads_it_back(
    stack: Stack, client_package: str
) -> None:
    client = part(client_package, "client")
    models = part(client_package, "models")
    login = part(client_package, "api.auth.login")
    create_task = part(client_package, "api.tasks.create_task")
    get_task = part(client_package, "api.tasks.get_task")
    delete_task = part(client_package, "api.tasks.delete_task")

    anonymous = client.Client(base_url=stack.base_url, raise_on_unexpected_status=True)
    session: Any = login.sync(
        client=anonymous,
        body=models.LoginRequest(username="admin", password=PASSWORDS["admin"]),
    )
    assert isinstance(session, models.EnvelopeTokenResponse), session
    assert session.data.user.role == models.UserOutRole.ADMIN

    admin = client.AuthenticatedClient(
        base_url=stack.base_url, token=session.data.access_token, raise_on_unexpected_status=True
    )
    name = unique("generated-client")
    created: Any = create_task.sync(
        client=admin,
        body=models.TaskWrite(
            name=name,
            task_type=models.TaskWriteTaskType.SHELL,
            schedule="0 0 1 1 *",
            parameters=models.TaskWriteParameters.from_dict({"command": "echo hi"}),
            status=models.TaskWriteStatus.INACTIVE,
        ),
    )
    assert isinstance(created, models.EnvelopeTaskOut), created
    task_id = created.data.id
    try:
        read: Any = get_task.sync(client=admin, task_id=task_id)
        assert isinstance(read, models.EnvelopeTaskDetail), read
        assert read.data.name == name
        assert read.data.task_type == models.TaskDetailTaskType.SHELL
        assert read.data.status == models.TaskDetailStatus.INACTIVE
        assert read.data.parameters.to_dict() == {"command": "echo hi"}
        assert read.data.recent_runs == []
        assert read.data.created_at.tzinfo is not None
    finally:
        deleted: Any = delete_task.sync(client=admin, task_id=task_id)
        assert isinstance(deleted, models.EnvelopeNoneType), deleted

    missing: Any = get_task.sync(client=admin, task_id=task_id)
    assert isinstance(missing, models.ErrorEnvelope), missing
    assert missing.error.code == models.ErrorCode.TASK_NOT_FOUND
