"""Fault tests get a stack of their own per module: they kill and restart its processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS, Stack, running_stack
from tests.helpers import Api


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/faults/" in str(item.path):
            item.add_marker(pytest.mark.faults)


# Faults are about processes and the network, not SQL dialects: they run against
# Postgres (the production database) when the suite has one, else SQLite.
FAULT_BACKENDS = ["postgres"] if "postgres" in BACKENDS else ["sqlite"]


@pytest.fixture(scope="module", params=FAULT_BACKENDS)
def fault_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with running_stack(request.param) as running:
        yield running


@pytest.fixture
def fault_admin(fault_stack: Stack) -> Iterator[Api]:
    api = fault_stack.api("admin")
    yield api
    api.close()
