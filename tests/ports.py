"""Listening ports for the processes tests start, apart for each pytest-xdist worker.

Every stack picks its ports (dev server, its Web UI, the API) before any of
them binds. With several xdist workers starting stacks at once, a port that
was free for one worker could be taken by another's process a moment later:
an API then failed to bind while another stack's Temporal Web UI answered on
its port. Each worker therefore draws from its own range, below Linux's
ephemeral range (32768 and up, where bind(0) and outgoing connections take
theirs), and never hands out the same port twice.
"""

from __future__ import annotations

import os
import random
import socket

LOW, HIGH = 10_000, 32_000
WORKERS = 8
"""Ranges for up to this many xdist workers; more share ranges (still checked by bind)."""

_handed_out: set[int] = set()


def worker_range(worker: str | None) -> range:
    """``gw<N>``'s share of ``LOW..HIGH``; the whole span without xdist."""
    if not worker or not worker.startswith("gw") or not worker[2:].isdigit():
        return range(LOW, HIGH)
    width = (HIGH - LOW) // WORKERS
    start = LOW + (int(worker[2:]) % WORKERS) * width
    return range(start, start + width)


def free_port() -> int:
    """A port of this worker's range that nothing listens on and this process never gave."""
    ports = worker_range(os.environ.get("PYTEST_XDIST_WORKER"))
    for _ in range(200):
        port = random.choice(ports)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")
