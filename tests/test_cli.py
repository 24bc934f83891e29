"""The ``scheduler`` command line, run as a subprocess against a real stack.

The module has a stack of its own: ``apply --prune`` and ``export`` act on
every task of a server, which must not be the session's shared one. The
refused-file test runs on the session stacks of both databases (it writes
nothing). Credentials live in a temporary ``XDG_CONFIG_HOME``.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import devstack
from cli import manifest
from tests.conftest import PRIMARY_BACKEND, Stack, running_stack
from tests.helpers import PASSWORDS, Api, unique
from tests.temporal import describe_schedule

SCHEDULER = Path(sys.executable).with_name("scheduler")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tasks.yaml"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
EXAMPLE_NAMES = ["api-health", "hourly-extract", "hourly-report"]


@dataclass
class Cli:
    """The console script with its own config directory (and optionally a server and key)."""

    env: dict[str, str]

    @property
    def credentials(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "scheduler" / "credentials.json"

    def __call__(
        self, *args: str, stdin: str = "", timeout: float = 90
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(SCHEDULER), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def ok(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def login(self, url: str, username: str = "admin") -> None:
        self.ok(
            "login",
            "--url",
            url,
            "-u",
            username,
            "--password-stdin",
            stdin=PASSWORDS[username] + "\n",
        )

    def on_terminal(self, *args: str, answer: str) -> tuple[int, str]:
        """Run with a terminal as stdin and stderr, answer the first question; (code, screen)."""
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [str(SCHEDULER), *args],
            env=self.env,
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            close_fds=True,
        )
        os.close(terminal)
        screen, answered = b"", False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal closed: the process has ended
                    break
                if not chunk:
                    break
                screen += chunk
            if not answered and b"Apply this plan?" in screen:
                os.write(controller, answer.encode() + b"\n")
                answered = True
            if process.poll() is not None and not ready:
                break
        os.close(controller)
        code = process.wait(timeout=30)
        text = ANSI.sub("", screen.decode(errors="replace"))
        assert "Traceback" not in text, text
        return code, text


def new_cli(tmp_path: Path, **extra: str) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULER_", "TEMPORAL_"))}
    config = tmp_path / f"config-{unique('cli')}"
    env.update({"XDG_CONFIG_HOME": str(config), "COLUMNS": "200", **extra})
    return Cli(env)


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    with running_stack(PRIMARY_BACKEND) as stack:
        yield stack


@pytest.fixture(scope="module")
def api(own_stack: Stack) -> Iterator[Api]:
    client = own_stack.api("admin")
    yield client
    client.close()


@pytest.fixture(scope="module")
def cli(own_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    logged_in = new_cli(tmp_path_factory.mktemp("cli"))
    logged_in.login(own_stack.base_url)
    return logged_in


def tasks_by_name(api: Api) -> dict[str, dict[str, Any]]:
    response = api.get("/api/tasks", params={"page_size": 100})
    assert response.status_code == 200, response.text
    return {task["name"]: task for task in response.json()["data"]["items"]}


def write_definitions(path: Path, definitions: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"tasks": definitions}, sort_keys=False), encoding="utf-8")
    return path


def example_definitions() -> list[dict[str, Any]]:
    """The example file's definitions as ``apply`` sends them (script path made absolute)."""
    return [definition.body for definition in manifest.load(EXAMPLE)]


def test_login_keeps_a_0600_token_pair_and_refreshes_it(own_stack: Stack, tmp_path: Path) -> None:
    cli = new_cli(tmp_path)
    cli.login(own_stack.base_url)
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.credentials.parent.stat().st_mode) == 0o700
    first = json.loads(cli.credentials.read_text())
    assert first["url"] == own_stack.base_url and first["username"] == "admin"

    # An access token past its expiry is refreshed before the request is sent.
    cli.credentials.write_text(json.dumps({**first, "access_expires_at": 0}))
    cli.ok("tasks", "ls")
    second = json.loads(cli.credentials.read_text())
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_expires_at"] > time.time() + 60
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600

    # An access token the server refuses is refreshed once and the request repeated.
    cli.credentials.write_text(json.dumps({**second, "access_token": "not-a-token"}))
    cli.ok("tasks", "ls")
    third = json.loads(cli.credentials.read_text())
    assert third["refresh_token"] != second["refresh_token"]

    # A spent refresh token ends the login: the command says to log in again.
    cli.credentials.write_text(
        json.dumps(
            {**third, "access_token": "not-a-token", "refresh_token": first["refresh_token"]}
        )
    )
    done = cli("tasks", "ls")
    assert done.returncode == 1
    assert "expired or was revoked" in done.stderr and "scheduler login" in done.stderr


def test_apply_of_the_example_creates_its_tasks_and_schedules(
    cli: Cli, api: Api, own_stack: Stack
) -> None:
    done = cli.ok("apply", "-f", str(EXAMPLE))
    for name in EXAMPLE_NAMES:
        assert f"+ create  {name}" in done.stdout, done.stdout
    assert "Applied: 3 created, 0 updated, 0 deleted, 0 unchanged." in done.stdout
    tasks = tasks_by_name(api)
    assert set(EXAMPLE_NAMES) <= set(tasks)
    assert tasks["hourly-report"]["dependencies"] == [tasks["hourly-extract"]["id"]]
    assert tasks["hourly-report"]["parameters"]["script_path"] == str(EXAMPLE.parent / "report.py")
    for name in EXAMPLE_NAMES:
        described = describe_schedule(own_stack.temporal_address, tasks[name]["id"])
        assert described is not None, name
        assert described.schedule.state.paused is False
        assert described.info.next_action_times, name

    again = cli.ok("apply", "-f", str(EXAMPLE))
    assert "Applied: 0 created, 0 updated, 0 deleted, 3 unchanged." in again.stdout
    assert "= unchanged  api-health, hourly-extract, hourly-report" in again.stdout
    after = tasks_by_name(api)
    assert {n: after[n]["updated_at"] for n in EXAMPLE_NAMES} == {
        n: tasks[n]["updated_at"] for n in EXAMPLE_NAMES
    }


def test_an_edit_shows_its_diff_and_updates_only_that_task(
    cli: Cli, api: Api, tmp_path: Path
) -> None:
    cli.ok("apply", "-f", str(EXAMPLE))
    before = tasks_by_name(api)
    definitions = example_definitions()
    extract = next(d for d in definitions if d["name"] == "hourly-extract")
    extract["schedule"] = "15 * * * *"
    extract["parameters"]["environment"]["REGION"] = "eu-central"
    edited = write_definitions(tmp_path / "edited.yaml", definitions)

    planned = cli.ok("apply", "-f", str(edited), "--dry-run")
    assert "~ update  hourly-extract" in planned.stdout, planned.stdout
    assert 'schedule: "0 * * * *" → "15 * * * *"' in planned.stdout
    assert 'parameters.environment.REGION: "eu-west" → "eu-central"' in planned.stdout
    assert "Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged." in planned.stdout
    assert tasks_by_name(api)["hourly-extract"]["schedule"] == "0 * * * *"

    # On a terminal the plan is shown and confirmed; "no" applies nothing.
    code, screen = cli.on_terminal("apply", "-f", str(edited), answer="n")
    assert code == 1 and "nothing was applied" in screen, screen
    assert tasks_by_name(api)["hourly-extract"]["schedule"] == "0 * * * *"
    code, screen = cli.on_terminal("apply", "-f", str(edited), answer="y")
    assert code == 0, screen
    assert "Applied: 0 created, 1 updated, 0 deleted, 2 unchanged." in screen

    after = tasks_by_name(api)
    assert after["hourly-extract"]["schedule"] == "15 * * * *"
    assert after["hourly-extract"]["updated_at"] != before["hourly-extract"]["updated_at"]
    for name in ("api-health", "hourly-report"):
        assert after[name]["updated_at"] == before[name]["updated_at"], name
    cli.ok("apply", "-f", str(EXAMPLE))


def test_prune_deletes_what_the_file_dropped_unless_a_task_depends_on_it(
    cli: Cli, api: Api, tmp_path: Path
) -> None:
    cli.ok("apply", "-f", str(EXAMPLE))
    extra = {
        "name": unique("to-prune"),
        "task_type": "shell",
        "schedule": "@daily",
        "parameters": {"command": "true"},
    }
    with_extra = write_definitions(tmp_path / "more.yaml", [*example_definitions(), extra])
    cli.ok("apply", "-f", str(with_extra))
    assert extra["name"] in tasks_by_name(api)

    pruned = cli.ok("apply", "-f", str(EXAMPLE), "--prune")
    assert f"- delete  {extra['name']}" in pruned.stdout, pruned.stdout
    assert "Applied: 0 created, 0 updated, 1 deleted, 3 unchanged." in pruned.stdout
    assert extra["name"] not in tasks_by_name(api)

    without_extract = [d for d in example_definitions() if d["name"] != "hourly-extract"]
    refused = cli(
        "apply", "-f", str(write_definitions(tmp_path / "less.yaml", without_extract)), "--prune"
    )
    assert refused.returncode == 1, refused.stdout
    assert "TASK_HAS_DEPENDENTS" in refused.stderr, refused.stderr
    assert "hourly-report" in refused.stderr
    assert set(EXAMPLE_NAMES) <= set(tasks_by_name(api))


def test_run_wait_exit_codes_follow_the_outcome(cli: Cli, api: Api) -> None:
    commands = {
        "passes": "echo all good",
        "fails": "echo broken >&2; exit 4",
        "times-out": "sleep 30",
    }
    names = {
        kind: api.create_task(
            name=unique(kind), parameters={"command": command}, timeout_seconds=1
        )["name"]
        for kind, command in commands.items()
    }

    passed = cli("run", names["passes"], "--wait")
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout == "all good\n"
    assert "Completed" in passed.stderr

    failed = cli("run", names["fails"], "--wait")
    assert failed.returncode == 1, failed.stderr
    assert "broken" in failed.stderr and "Failed" in failed.stderr

    timed_out = cli("run", names["times-out"], "--wait", "-o", "json")
    assert timed_out.returncode == 2, timed_out.stderr
    assert json.loads(timed_out.stdout)["status"] == "Timeout"

    replay_key = unique("key")
    first = json.loads(
        cli.ok("run", names["passes"], "--idempotency-key", replay_key, "-o", "json").stdout
    )
    second = json.loads(
        cli.ok("run", names["passes"], "--idempotency-key", replay_key, "-o", "json").stdout
    )
    assert second["task_run_id"] == first["task_run_id"] and second["replayed"] is True


def test_export_then_apply_changes_nothing(cli: Cli, api: Api, tmp_path: Path) -> None:
    cli.ok("apply", "-f", str(EXAMPLE))
    exported = tmp_path / "exported.yaml"
    exported.write_text(cli.ok("export").stdout, encoding="utf-8")
    before = {name: task["updated_at"] for name, task in tasks_by_name(api).items()}
    assert set(EXAMPLE_NAMES) <= set(before)
    done = cli.ok("apply", "-f", str(exported), "--prune")
    assert f"Applied: 0 created, 0 updated, 0 deleted, {len(before)} unchanged." in done.stdout
    assert {name: task["updated_at"] for name, task in tasks_by_name(api).items()} == before


def test_errors_name_the_api_code_and_an_unreachable_server_exits_3(
    cli: Cli, tmp_path: Path
) -> None:
    missing = cli("runs", "get", "999999")
    assert missing.returncode == 1
    assert "TASK_RUN_NOT_FOUND" in missing.stderr and "999999" in missing.stderr

    nowhere = f"http://127.0.0.1:{devstack.free_port()}"
    offline = new_cli(tmp_path, SCHEDULER_URL=nowhere, SCHEDULER_API_KEY="sk_live_" + "x" * 32)
    for args in (("tasks", "ls"), ("run", "anything", "--wait"), ("status",)):
        done = offline(*args)
        assert done.returncode == 3, (args, done.stderr)
        assert f"cannot reach the scheduler at {nowhere}" in done.stderr
        assert done.stdout == ""


def test_a_file_with_a_cycle_and_a_bad_cron_is_refused_whole(
    stack: Stack, admin: Api, tmp_path: Path
) -> None:
    key = admin.post(
        "/api/auth/api-keys",
        json={"name": unique("cli"), "permissions": ["TaskRead", "TaskWrite"]},
    )
    assert key.status_code == 201, key.text
    cli = new_cli(
        tmp_path, SCHEDULER_URL=stack.base_url, SCHEDULER_API_KEY=key.json()["data"]["api_key"]
    )
    a, b, c = unique("cycle-a"), unique("cycle-b"), unique("bad-cron")
    bad = write_definitions(
        tmp_path / "bad.yaml",
        [
            {
                "name": a,
                "task_type": "shell",
                "schedule": "@daily",
                "parameters": {"command": "true"},
                "dependencies": [b],
            },
            {
                "name": b,
                "task_type": "shell",
                "schedule": "@daily",
                "parameters": {"command": "true"},
                "dependencies": [a],
            },
            {
                "name": c,
                "task_type": "shell",
                "schedule": "61 * * * *",
                "parameters": {"command": "true"},
            },
        ],
    )
    refused = cli("apply", "-f", str(bad))
    assert refused.returncode == 1, refused.stdout
    assert "nothing was applied" in refused.stderr, refused.stderr
    assert "DEPENDENCY_CYCLE" in refused.stderr
    assert "INVALID_SCHEDULE" in refused.stderr
    assert f"{bad}#3" in refused.stderr
    for name in (a, b, c):
        response = admin.get("/api/tasks", params={"name": name})
        assert response.status_code == 200, response.text
        assert response.json()["data"]["items"] == [], name
