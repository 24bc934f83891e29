"""The tests' port allocator: apart per xdist worker, below the ephemeral range, never twice."""

from __future__ import annotations

import pytest

import devstack
from tests import ports


def test_each_worker_draws_from_its_own_range() -> None:
    ranges = [ports.worker_range(f"gw{n}") for n in range(ports.WORKERS)]
    for index, one in enumerate(ranges):
        for other in ranges[index + 1 :]:
            assert set(one).isdisjoint(other)
    assert all(r.start >= ports.LOW and r.stop <= ports.HIGH < 32768 for r in ranges)
    assert ports.worker_range(None) == range(ports.LOW, ports.HIGH)


def test_a_port_is_handed_out_once_and_is_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    given = [ports.free_port() for _ in range(50)]
    assert len(set(given)) == 50
    assert all(port in ports.worker_range("gw1") for port in given)
    assert devstack.free_port is ports.free_port  # the suite's stacks use it
