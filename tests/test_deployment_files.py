"""The compose file and Dockerfile name only things that exist (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import worker_main

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def known_variables() -> set[str]:
    """Every environment variable settings.py reads."""
    source = (ROOT / "settings.py").read_text()
    return set(re.findall(r'"((?:SCHEDULER|TEMPORAL)_[A-Z_]+|DATABASE_URL)"', source))


def scheduler_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("build") == "."
    }


def test_every_scheduler_command_exists_and_parses() -> None:
    services = scheduler_services()
    assert {"api", "orchestrator", "worker-shell", "worker-http", "worker-python"} <= set(services)
    for name, service in services.items():
        command = service["command"]
        assert command[0] == "python", name
        assert (ROOT / command[1]).is_file(), f"{name}: {command[1]} does not exist"
        if command[1] == "worker_main.py":
            args = worker_main.parse_args(command[2:])
            assert args.orchestrator or args.task_type, name
    executor_types = {
        t
        for s in services.values()
        if "--task-type" in s["command"]
        for t in s["command"][s["command"].index("--task-type") + 1 :: 2]
    }
    assert executor_types == {"shell", "http", "python"}


def test_every_variable_is_a_setting() -> None:
    known = known_variables()
    assert {"DATABASE_URL", "TEMPORAL_ADDRESS", "SCHEDULER_API_PORT"} <= known
    for name, service in scheduler_services().items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"
    example = [
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert set(example) - {"POSTGRES_PASSWORD"} <= known


def test_ports_match_the_settings() -> None:
    services = compose()["services"]
    api = services["api"]
    port = api["environment"]["SCHEDULER_API_PORT"]
    assert api["ports"] == [f"{port}:{port}"]
    # Temporal's frontend and Web UI authenticate nobody: never beyond the host's loopback.
    assert services["temporal"]["ports"] == ["127.0.0.1:7233:7233"]
    assert services["temporal-ui"]["ports"] == ["127.0.0.1:8233:8080"]
    assert api["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert api["environment"]["SCHEDULER_EXTERNAL_TEMPORAL"] == "1"


def test_no_secret_is_baked_in() -> None:
    text = (ROOT / "docker-compose.yml").read_text() + (ROOT / "Dockerfile").read_text()
    assert "SCHEDULER_JWT_SECRET" not in text
    literal = re.search(r"(PASSWORD|PWD):[ ]+[^$\s{]", text)
    assert not literal, "a literal password in the compose file"
    for service in scheduler_services().values():
        assert service["env_file"] == [".env"]
        # Shared by every process, so it must come from .env, never be generated per container.
        assert service["environment"]["SCHEDULER_PAYLOAD_KEY"].startswith(
            "${SCHEDULER_PAYLOAD_KEY:?"
        )


def test_images_are_pinned() -> None:
    for name, service in compose()["services"].items():
        image = service.get("image")
        if image:
            assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"


@pytest.mark.parametrize(
    "line",
    [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")],
)
def test_dockerfile_copies_what_exists(line: str) -> None:
    sources = line.split()[1:-1]
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
