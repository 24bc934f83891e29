"""Workflow tests: ``TaskRunWorkflow`` on an in-process ``Worker`` against the session
dev server, with test doubles in place of its activities."""

from __future__ import annotations

import pytest

from tests.dev_server import DevServer


@pytest.fixture(scope="session")
def temporal(dev_server: DevServer) -> tuple[str, str]:
    """``(address, namespace)``: a namespace of the session dev server for these tests."""
    return dev_server.address, dev_server.take_namespace()
