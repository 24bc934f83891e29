"""Pure pieces: cron acceptance, output bounds, parameter rules, settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.auth.passwords import PasswordHasher
from domain.cron import CronError, to_temporal_cron
from domain.parameters import PARAMETER_TYPES, ParameterError, ParameterRules, validate_parameters
from domain.task_types import SUPPORTED_TASK_TYPES
from processes.output import BoundedOutput
from settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/5 * * * *", "*/5 * * * *"),
        ("  0   9 * *  MON-FRI ", "0 9 * * MON-FRI"),
        ("@daily", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
        ("0 0 1 JAN,JUL *", "0 0 1 JAN,JUL *"),
    ],
)
def test_cron_accepted(expression: str, expected: str) -> None:
    assert to_temporal_cron(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",
        "0 * * * * *",
        "0 0 L * *",
        "0 0 * * 5#2",
        "H * * * *",
        "@reboot",
        "61 * * * *",
        "* 24 * * *",
        "* * 32 * *",
        "* * * 13 *",
        "0 0 ? * *",
        "a b c d e",
    ],
)
def test_cron_refused(expression: str) -> None:
    with pytest.raises(CronError):
        to_temporal_cron(expression)


def test_bounded_output_keeps_head_and_tail() -> None:
    out = BoundedOutput(20)
    for _ in range(100):
        out.feed(b"0123456789")
    out.feed(b"END")
    text = out.text()
    assert out.total == 1003
    assert out.cut == 1003 - 20
    assert text.startswith("0123456789")
    assert text.endswith("789END")
    assert f"[... {1003 - 20} bytes cut ...]" in text


def test_bounded_output_small_is_untouched() -> None:
    out = BoundedOutput(100)
    out.feed(b"hello ")
    out.feed(b"world")
    assert out.text() == "hello world"
    assert out.cut == 0


SHELLS = ("/bin/sh", "/bin/bash")
RULES = ParameterRules(allowed_shells=SHELLS)


def test_shell_parameters_are_normalised() -> None:
    params = validate_parameters(
        "shell",
        {"command": "ls", "working_directory": "/tmp//x/./y"},
        RULES,
    )
    # Defaults (shell /bin/sh, empty environment) are implied, not echoed.
    assert params == {"command": "ls", "working_directory": "/tmp/x/y"}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "parameters.command"),
        ({"command": ""}, "parameters.command"),
        ({"command": "ls", "extra": 1}, "parameters.extra"),
        ({"command": 5}, "parameters.command"),
        ({"command": "ls", "shell": "/usr/bin/zsh"}, "parameters.shell"),
        ({"command": "ls", "working_directory": "relative"}, "parameters.working_directory"),
        ({"command": "ls", "working_directory": "/a/../etc"}, "parameters.working_directory"),
        ({"command": "ls", "working_directory": "/srv/\x00"}, "parameters.working_directory"),
        ({"command": "ls", "working_directory": "/etc"}, "parameters.working_directory"),
        ({"command": "ls", "environment": {"A": 1}}, "parameters.environment"),
        ({"command": "ls", "environment": {"A=B": "x"}}, "parameters.environment.A=B"),
        ({"command": "ls", "environment": []}, "parameters.environment"),
    ],
)
def test_shell_parameters_refused(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ParameterError) as info:
        validate_parameters("shell", raw, ParameterRules(SHELLS, allowed_paths=("/srv",)))
    assert info.value.field == field


def test_settings_read_every_fixed_name(tmp_path: Path) -> None:
    env = {
        "SCHEDULER_API_HOST": "0.0.0.0",
        "SCHEDULER_API_PORT": "9000",
        "SCHEDULER_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql+asyncpg://u@db/x",
        "TEMPORAL_ADDRESS": "temporal:7233",
        "TEMPORAL_NAMESPACE": "prod",
        "SCHEDULER_TEMPORAL_UI_PORT": "9233",
        "SCHEDULER_TASK_QUEUE_PREFIX": "acme",
        "SCHEDULER_JWT_SECRET": "s3cret",
        "SCHEDULER_RATE_LIMIT_AUTH": "5",
        "SCHEDULER_RATE_LIMIT_TASKS": "50",
        "SCHEDULER_RATE_LIMIT_SYSTEM": "30",
        "SCHEDULER_WORKER_TASK_TYPES": "shell, http",
        "SCHEDULER_EXTERNAL_TEMPORAL": "1",
    }
    settings = Settings.from_env(env)
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 9000)
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgresql+asyncpg://u@db/x"
    assert (settings.temporal_address, settings.temporal_namespace) == ("temporal:7233", "prod")
    assert settings.temporal_ui_port == 9233
    assert settings.orchestrator_queue == "acme-orchestrator"
    assert settings.executor_queue("shell") == "acme-shell"
    assert settings.jwt_secret == "s3cret"
    assert (settings.rate_limit_auth, settings.rate_limit_tasks, settings.rate_limit_system) == (
        5,
        50,
        30,
    )
    assert settings.worker_task_types == ("shell", "http")
    assert settings.external_temporal is True


def test_settings_defaults_and_generated_secret(tmp_path: Path) -> None:
    settings = Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'scheduler.db'}"
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8080)
    assert settings.temporal_address == "127.0.0.1:7233"
    assert settings.worker_task_types == ("shell", "http", "python")
    assert len(settings.jwt_secret) >= 32
    # The generated secret is kept: a restart signs with the same key.
    again = Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path)})
    assert again.jwt_secret == settings.jwt_secret
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
    assert settings.run_as_user == "nobody"
    assert not settings.allow_root_tasks
    assert settings.task_max_memory_mb is None
    assert settings.task_max_cpu_seconds is None
    assert not settings.allow_loader_env


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCHEDULER_API_PORT", "http"),
        ("SCHEDULER_RATE_LIMIT_TASKS", "0"),
        ("TEMPORAL_ADDRESS", "x"),
        ("SCHEDULER_TASK_MAX_MEMORY_MB", "0"),
        ("SCHEDULER_TASK_MAX_CPU_SECONDS", "-1"),
        ("SCHEDULER_TASK_MAX_OPEN_FILES", "many"),
    ],
)
def test_settings_refuse_bad_values(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path), name: value})


def test_stored_passwords_cost_passlibs_argon2id_defaults(tmp_path: Path) -> None:
    """What a deployment stores (the suite itself hashes cheaply: CHEAP_PASSWORD_HASHES)."""
    settings = Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path)})
    hasher = PasswordHasher(
        rounds=settings.password_hash_rounds, memory_kib=settings.password_hash_memory_kib
    )
    stored = hasher.hash("s3cret-pw")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), stored
    assert hasher.verify("s3cret-pw", stored) == (True, None)
    # A hash of the suite's cost is upgraded to the deployed one at its next login.
    cheap = PasswordHasher(rounds=1, memory_kib=4096).hash("s3cret-pw")
    matches, upgraded = hasher.verify("s3cret-pw", cheap)
    assert matches and upgraded is not None and upgraded.startswith("$argon2id$v=19$m=65536,t=3")


def test_every_supported_task_type_has_a_parameter_schema() -> None:
    assert tuple(PARAMETER_TYPES) == SUPPORTED_TASK_TYPES
