"""One Temporal dev server for the tests that run the API or a worker in this process.

Every database those tests create gets a namespace of its own on it, so the
ids Temporal derives from database ids (``task-<id>``, ``task-<id>-manual-<run>``)
never meet another database's.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import devstack
from workflows.search_attribute_names import dev_server_flags

NAMESPACES = 16
"""Created at launch: a namespace registered later takes seconds to become usable."""


@dataclass
class DevServer:
    address: str
    namespaces: list[str]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take_namespace(self) -> str:
        """A namespace no other database of this session uses."""
        with self._lock:
            if not self.namespaces:
                raise RuntimeError(f"all {NAMESPACES} namespaces of the dev server are taken")
            return self.namespaces.pop(0)


@contextmanager
def running_dev_server(data_dir: Path) -> Iterator[DevServer]:
    """``temporal server start-dev`` (headless, in memory) on a free port; stopped on exit."""
    port = devstack.free_port()
    namespaces = [f"inproc-{index}" for index in range(NAMESPACES)]
    argv = [
        devstack.temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--headless",
        "--log-level",
        "error",
        *dev_server_flags(),
    ]
    for namespace in namespaces:
        argv += ["--namespace", namespace]
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "temporal.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        devstack.wait_for_port("127.0.0.1", port, 60)
        yield DevServer(address=f"127.0.0.1:{port}", namespaces=namespaces)
    finally:
        # In memory: nothing to flush, so a server slow to stop is killed soon.
        devstack.stop(process, within_seconds=3)
