"""Extra processes beside the session stack, sharing its database and Temporal."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import devstack
from tests.conftest import Stack


@dataclass
class Extra:
    process: subprocess.Popen[bytes]
    log_path: Path
    base_url: str = ""
    """Set for an API process."""

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


@contextlib.contextmanager
def extra_process(
    stack: Stack, name: str, script: str, args: list[str], env: Mapping[str, str]
) -> Iterator[Extra]:
    """``script`` with ``args`` and the stack's environment plus ``env``; stopped on exit."""
    log_path = stack.data_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = devstack.start_python(script, args, {**stack.env, **env}, log)
    try:
        yield Extra(process, log_path)
    finally:
        devstack.stop(process, within_seconds=20)


@contextlib.contextmanager
def extra_api(stack: Stack, name: str, env: Mapping[str, str]) -> Iterator[Extra]:
    """A second API process on its own port, answering once this returns."""
    port = devstack.free_port()
    with extra_process(
        stack, name, "api_main.py", [], {**env, "SCHEDULER_API_PORT": str(port)}
    ) as extra:
        extra.base_url = f"http://127.0.0.1:{port}"
        devstack.wait_for_http(f"{extra.base_url}/health", 60, extra.process)
        yield extra
