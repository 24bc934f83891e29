"""The ``scheduler`` command line, run as a subprocess against a real stack.

The module has a stack of its own, so the tests may act on every task of a
server. Credentials live in a temporary ``XDG_CONFIG_HOME``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import devstack
from tests.conftest import PRIMARY_BACKEND, Stack, running_stack
from tests.helpers import PASSWORDS, Api, unique

SCHEDULER = Path(sys.executable).with_name("scheduler")


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
