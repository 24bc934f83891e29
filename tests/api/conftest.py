"""The API tests that need no process of their own: the app runs in this process.

The callers below shadow the stack's fixtures of the same names, so a module
moved here keeps its tests as they were.
"""

from __future__ import annotations

import pytest

from tests.helpers import Api
from tests.in_process import App


@pytest.fixture
def admin(app: App) -> Api:
    return app.api("admin")


@pytest.fixture
def viewer(app: App) -> Api:
    return app.api("viewer")


@pytest.fixture
def operator(app: App) -> Api:
    return app.api("operator")


@pytest.fixture
def anonymous(app: App) -> Api:
    return app.api(None)
