"""``/metrics`` refreshes its database figures on the API's own timer, not on scrape."""

from __future__ import annotations

import time

import pytest

from tests.helpers import Api
from tests.in_process import App
from tests.prometheus import samples, value

pytestmark = pytest.mark.one_backend  # the timer is the API's, not the database's


def _scrape(anonymous: Api) -> str:
    response = anonymous.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


def test_one_scrape_after_the_interval_shows_a_pause(app: App, admin: Api, anonymous: Api) -> None:
    task = admin.create_task()
    before = samples(_scrape(anonymous))
    paused = admin.patch(f"/api/tasks/{task['id']}", json={"status": "Inactive"})
    assert paused.status_code == 200, paused.text
    # No scrape in between: a refresh started by a scrape would still answer
    # the snapshot read at (or before) the scrape before the pause.
    time.sleep(app.settings.metrics_refresh_seconds * 2)
    after = samples(_scrape(anonymous))
    name, inactive = "scheduler_tasks_total", {"status": "inactive"}
    assert value(after, name, **inactive) - value(before, name, **inactive) == 1
