"""Rate limits per class: auth per IP, tasks/runs/workers per caller, system per caller.

The session app runs with limits raised out of reach, so each test builds
its own app instances on the session app's database with small limits (a
fresh instance has fresh in-process counters). Windows are fixed minutes: a
burst that must fit in one window starts with at least ``MARGIN`` seconds left.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import devstack
from tests.helpers import PASSWORDS, assert_error
from tests.in_process import App, another_instance

pytestmark = pytest.mark.one_backend

AUTH, TASKS, SYSTEM = 3, 5, 4
LIMITS = {
    "SCHEDULER_RATE_LIMIT_AUTH": str(AUTH),
    "SCHEDULER_RATE_LIMIT_TASKS": str(TASKS),
    "SCHEDULER_RATE_LIMIT_SYSTEM": str(SYSTEM),
}
REDIS_URL = "redis://127.0.0.1:6379/0"
MARGIN = 5.0
HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


Limited = Callable[..., contextlib.AbstractContextManager[httpx.Client]]


@pytest.fixture
def limited_api(app: App) -> Limited:
    """Builds fresh instances of the app with the small limits (and ``env``): their clients."""

    @contextlib.contextmanager
    def limited(**env: str) -> Iterator[httpx.Client]:
        with another_instance(app, {**LIMITS, **env}) as instance:
            yield instance.client

    return limited


def fresh_window() -> None:
    """Return with at least ``MARGIN`` seconds left in the current minute."""
    left = 60 - time.time() % 60
    if left < MARGIN:
        time.sleep(left + 0.2)


@pytest.fixture(scope="module")
def tokens(app: App) -> dict[str, str]:
    """Access tokens from the session app (logging in on a limited one spends its budget)."""
    out: dict[str, str] = {}
    http = app.client
    for user in ("admin", "viewer"):
        response = http.post(
            "/api/auth/login", json={"username": user, "password": PASSWORDS[user]}
        )
        assert response.status_code == 200, response.text
        out[user] = response.json()["data"]["access_token"]
    key = http.post(
        "/api/auth/api-keys",
        headers={"Authorization": f"Bearer {out['admin']}"},
        json={"name": f"limits-{uuid.uuid4().hex[:6]}", "permissions": ["Admin"]},
    )
    assert key.status_code == 201, key.text
    out["key"] = key.json()["data"]["api_key"]
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def limit_headers(response: httpx.Response, limit: int) -> tuple[int, int]:
    """``(remaining, reset)`` of a limited response, after checking the three headers."""
    for name in HEADERS:
        assert name in response.headers, (name, dict(response.headers))
    assert response.headers["x-ratelimit-limit"] == str(limit)
    remaining = int(response.headers["x-ratelimit-remaining"])
    reset = int(response.headers["x-ratelimit-reset"])
    now = time.time()
    assert reset % 60 == 0, reset  # the next minute boundary
    assert now - 1 < reset <= now + 61, (reset, now)
    assert 0 <= remaining <= limit
    return remaining, reset


def assert_refused(response: httpx.Response, limit: int) -> None:
    """429 in the envelope with the limit, the reset time and ``Retry-After``."""
    body = assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    remaining, reset = limit_headers(response, limit)
    assert remaining == 0
    details = body["error"]["details"]
    assert details["limit"] == limit
    assert details["reset_at"].endswith("Z"), details
    assert datetime.fromisoformat(details["reset_at"].replace("Z", "+00:00")) == (
        datetime.fromtimestamp(reset, UTC)
    )
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert abs(retry_after - (reset - time.time())) <= 2, (retry_after, reset)
    assert response.headers["x-content-type-options"] == "nosniff"


def spend(
    client: httpx.Client, requests: list[tuple[str, str, dict[str, Any]]], limit: int
) -> list[httpx.Response]:
    """Send ``requests`` in order; each must carry the headers, counting down from the limit."""
    responses = []
    for index, (method, path, kwargs) in enumerate(requests):
        response = client.request(method, path, **kwargs)
        remaining, _ = limit_headers(response, limit)
        assert remaining == limit - index - 1, (path, response.text)
        assert response.status_code != 429, response.text
        responses.append(response)
    return responses


def test_auth_endpoints_are_limited_per_ip(limited_api: Limited, tokens: dict[str, str]) -> None:
    with limited_api() as client:
        fresh_window()
        wrong = {"username": "admin", "password": "wrong"}
        answers = spend(
            client,
            [
                ("POST", "/api/auth/login", {"json": wrong}),
                ("GET", "/api/auth/validate", {"headers": auth(tokens["admin"])}),
                ("POST", "/api/auth/refresh", {"json": {"refresh_token": "nope"}}),
            ],
            AUTH,
        )
        assert [a.status_code for a in answers] == [401, 200, 401]
        # Right password, other user, other credential: the same IP's budget is spent.
        good = {"username": "admin", "password": PASSWORDS["admin"]}
        assert_refused(client.post("/api/auth/login", json=good), AUTH)
        assert_refused(client.get("/api/auth/validate", headers=auth(tokens["viewer"])), AUTH)
        # Other classes are counted apart.
        tasks = client.get("/api/tasks", headers=auth(tokens["admin"]))
        assert tasks.status_code == 200, tasks.text
        assert limit_headers(tasks, TASKS)[0] == TASKS - 1


def test_a_route_is_limited_however_its_path_is_spelled(limited_api: Limited) -> None:
    """The class comes from the route the router matches, not from the raw path."""
    wrong = {"username": "admin", "password": "wrong"}
    with limited_api() as client:
        # A relative "//api/..." would name a host: the path goes in as it is.
        leading = client.base_url.copy_with(raw_path=b"//api/auth/login")
        fresh_window()
        answers = spend(
            client,
            [
                ("POST", str(leading), {"json": wrong}),
                ("POST", "/api//auth/login", {"json": wrong}),
                ("POST", "/api/auth/login/", {"json": wrong}),
            ],
            AUTH,
        )
        assert [a.status_code for a in answers] == [401] * AUTH
        assert_refused(client.post("/api/auth//login", json=wrong), AUTH)


def test_task_endpoints_are_limited_per_caller(
    limited_api: Limited, tokens: dict[str, str]
) -> None:
    admin = auth(tokens["admin"])
    with limited_api() as client:
        fresh_window()
        answers = spend(
            client,
            [
                ("GET", "/api/tasks", {"headers": admin}),
                ("GET", "/api/workers", {"headers": admin}),
                ("GET", "/api/task-runs/987654321", {"headers": admin}),
                ("GET", "/api/tasks/987654321/runs", {"headers": admin}),
                ("POST", "/api/tasks", {"headers": admin, "json": {"name": ""}}),
            ],
            TASKS,
        )
        # Failures spend the budget too, and carry the headers.
        assert [a.status_code for a in answers] == [200, 200, 404, 404, 422]
        assert_refused(client.get("/api/tasks", headers=admin), TASKS)
        assert_refused(client.get("/api/workers", headers=admin), TASKS)
        # Another user, a key, and another class are not limited by the admin's spending.
        viewer = client.get("/api/tasks", headers=auth(tokens["viewer"]))
        assert viewer.status_code == 200, viewer.text
        assert limit_headers(viewer, TASKS)[0] == TASKS - 1
        key = client.get("/api/tasks", headers=auth(tokens["key"]))
        assert key.status_code == 200, key.text
        assert limit_headers(key, TASKS)[0] == TASKS - 1
        system = client.get("/api/system/stats", headers=admin)
        assert system.status_code == 200, system.text
        assert limit_headers(system, SYSTEM)[0] == SYSTEM - 1


def test_system_endpoints_are_limited_per_caller(
    limited_api: Limited, tokens: dict[str, str]
) -> None:
    viewer = auth(tokens["viewer"])
    with limited_api() as client:
        fresh_window()
        spend(
            client,
            [
                ("GET", "/api/system/stats", {"headers": viewer}),
                ("GET", "/api/system/health", {"headers": viewer}),
                ("GET", "/api/system/stats", {"headers": viewer}),
                ("GET", "/api/system/nothing-here", {"headers": viewer}),
            ],
            SYSTEM,
        )
        assert_refused(client.get("/api/system/stats", headers=viewer), SYSTEM)
        admin = client.get("/api/system/stats", headers=auth(tokens["admin"]))
        assert admin.status_code == 200, admin.text
        assert limit_headers(admin, SYSTEM)[0] == SYSTEM - 1


def test_requests_without_credentials_spend_their_ip_budget(
    limited_api: Limited, tokens: dict[str, str]
) -> None:
    with limited_api() as client:
        fresh_window()
        garbage = auth("garbage")
        answers = spend(
            client,
            [("GET", "/api/tasks", {}), ("GET", "/api/tasks", {"headers": garbage})] * 2
            + [("GET", "/api/workers", {})],
            TASKS,
        )
        assert {a.status_code for a in answers} == {401}
        assert_refused(client.get("/api/tasks"), TASKS)
        # A caller with a valid token has a budget of its own.
        admin = client.get("/api/tasks", headers=auth(tokens["admin"]))
        assert admin.status_code == 200, admin.text


def test_made_up_api_keys_spend_their_ip_budget(
    limited_api: Limited, tokens: dict[str, str]
) -> None:
    """A fresh random key per request must not buy a fresh budget per request."""
    with limited_api() as client:
        fresh_window()

        def made_up() -> dict[str, Any]:
            return {"headers": auth(f"sk_live_{uuid.uuid4().hex}")}

        answers = spend(client, [("GET", "/api/tasks", made_up()) for _ in range(TASKS)], TASKS)
        assert {a.status_code for a in answers} == {401}
        assert_refused(client.get("/api/tasks", **made_up()), TASKS)
        # A real key still has a budget of its own.
        real = client.get("/api/tasks", headers=auth(tokens["key"]))
        assert real.status_code == 200, real.text
        assert limit_headers(real, TASKS)[0] == TASKS - 1


def test_health_metrics_and_schema_are_never_limited(limited_api: Limited) -> None:
    with limited_api() as client:
        for _ in range(max(AUTH, TASKS, SYSTEM) + 3):
            for path in ("/health", "/metrics", "/schema/openapi.json"):
                response = client.get(path)
                assert response.status_code == 200, (path, response.text)
                assert not any(h in response.headers for h in HEADERS), path


def near_the_window_end(monkeypatch: pytest.MonkeyPatch, left: float) -> None:
    """Move the wall clock forward so the current minute has ``left`` seconds left.

    The limiter's windows stay real minutes of ``time.time()``; only where the
    test starts in one changes, so the boundary it waits for is seconds away.
    """
    real = time.time
    offset = (60 - real() % 60 - left) % 60
    monkeypatch.setattr(time, "time", lambda: real() + offset)


def test_limits_reset_at_the_next_window(
    limited_api: Limited, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one test that waits for a minute boundary (its clock moved to just before one)."""
    admin = auth(tokens["admin"])
    with limited_api() as client:
        near_the_window_end(monkeypatch, MARGIN + 1)
        fresh_window()
        spend(client, [("GET", "/api/tasks", {"headers": admin})] * TASKS, TASKS)
        spend(client, [("GET", "/api/system/stats", {"headers": admin})] * SYSTEM, SYSTEM)
        spend(client, [("GET", "/api/auth/validate", {"headers": admin})] * AUTH, AUTH)
        refused = [
            client.get("/api/tasks", headers=admin),
            client.get("/api/system/stats", headers=admin),
            client.get("/api/auth/validate", headers=admin),
        ]
        for response, limit in zip(refused, (TASKS, SYSTEM, AUTH), strict=True):
            assert_refused(response, limit)
        reset = int(refused[0].headers["x-ratelimit-reset"])
        assert {int(r.headers["x-ratelimit-reset"]) for r in refused} == {reset}
        assert reset == (int(time.time()) // 60 + 1) * 60
        time.sleep(max(0.0, reset - time.time()) + 0.3)
        for path, limit in (
            ("/api/tasks", TASKS),
            ("/api/system/stats", SYSTEM),
            ("/api/auth/validate", AUTH),
        ):
            response = client.get(path, headers=admin)
            assert response.status_code == 200, response.text
            remaining, next_reset = limit_headers(response, limit)
            assert remaining == limit - 1
            assert next_reset == reset + 60


def test_instances_share_one_budget_through_redis(
    app: App, limited_api: Limited, tokens: dict[str, str]
) -> None:
    # A key made for this test: its budget is a key space no one else uses.
    http = app.client
    created = http.post(
        "/api/auth/api-keys",
        headers=auth(tokens["admin"]),
        json={"name": f"redis-{uuid.uuid4().hex[:6]}", "permissions": ["TaskRead"]},
    )
    assert created.status_code == 201, created.text
    key = auth(created.json()["data"]["api_key"])
    with (
        limited_api(SCHEDULER_RATE_LIMIT_REDIS_URL=REDIS_URL) as first,
        limited_api(SCHEDULER_RATE_LIMIT_REDIS_URL=REDIS_URL) as second,
    ):
        fresh_window()
        for index in range(TASKS):
            client = (first, second)[index % 2]
            response = client.get("/api/tasks", headers=key)
            assert response.status_code == 200, response.text
            assert limit_headers(response, TASKS)[0] == TASKS - index - 1
        # Request limit + 1, on either instance, is refused.
        assert_refused(second.get("/api/tasks", headers=key), TASKS)
        assert_refused(first.get("/api/tasks", headers=key), TASKS)


def test_without_redis_each_instance_counts_alone(
    limited_api: Limited, tokens: dict[str, str]
) -> None:
    """Control for the shared budget: in-process stores do not share."""
    admin = auth(tokens["admin"])
    with (
        limited_api() as first,
        limited_api() as second,
    ):
        fresh_window()
        spend(first, [("GET", "/api/tasks", {"headers": admin})] * TASKS, TASKS)
        spend(second, [("GET", "/api/tasks", {"headers": admin})] * TASKS, TASKS)
        assert_refused(first.get("/api/tasks", headers=admin), TASKS)


def test_an_unreachable_redis_fails_open_to_local_counting(
    limited_api: Limited, tokens: dict[str, str]
) -> None:
    admin = auth(tokens["admin"])
    dead = f"redis://127.0.0.1:{devstack.free_port()}/0"
    with limited_api(SCHEDULER_RATE_LIMIT_REDIS_URL=dead) as client:
        fresh_window()
        spend(client, [("GET", "/api/tasks", {"headers": admin})] * TASKS, TASKS)
        assert_refused(client.get("/api/tasks", headers=admin), TASKS)
