"""Failed logins back off per account: 429 with Retry-After after 5 failures, growing.

The app tests run on fresh instances (their failure counts start empty); the
lockout arithmetic runs on ``LoginBackoff`` with a clock the test moves.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from api.auth.login_backoff import (
    BASE_LOCK_SECONDS,
    THRESHOLD,
    WINDOW_SECONDS,
    LoginBackoff,
    MemoryFailureLog,
    lock_seconds,
)
from api.errors import ApiError
from tests.helpers import PASSWORDS, assert_error
from tests.in_process import App, another_instance

REDIS_URL = "redis://127.0.0.1:6379/0"


def attempt(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def assert_locked(response: httpx.Response) -> None:
    body = assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    assert body["error"]["details"]["reason"] == "login_backoff", body
    assert 1 <= int(response.headers["retry-after"]) <= BASE_LOCK_SECONDS


def test_five_failures_lock_the_account_even_for_the_right_password(app: App) -> None:
    with another_instance(app) as instance:
        client = instance.client
        for _ in range(THRESHOLD):
            assert_error(attempt(client, "operator", "wrong"), 401, "AUTHENTICATION_REQUIRED")
        assert_locked(attempt(client, "operator", PASSWORDS["operator"]))
        assert_locked(attempt(client, "OPERATOR", "wrong"))  # the same account, however spelled
        # Other accounts are not locked by it.
        assert attempt(client, "viewer", PASSWORDS["viewer"]).status_code == 200


def test_fewer_failures_then_a_success_start_the_count_again(app: App) -> None:
    with another_instance(app) as instance:
        client = instance.client
        for _ in range(2):
            for _ in range(THRESHOLD - 1):
                assert attempt(client, "viewer", "wrong").status_code == 401
            assert attempt(client, "viewer", PASSWORDS["viewer"]).status_code == 200


def test_unknown_usernames_lock_alike(app: App) -> None:
    """A lockout must not tell an existing account from a made-up one."""
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    with another_instance(app) as instance:
        for _ in range(THRESHOLD):
            assert attempt(instance.client, ghost, "wrong").status_code == 401
        assert_locked(attempt(instance.client, ghost, "wrong"))


def test_failures_count_across_instances_through_redis(app: App) -> None:
    """Through Redis, failures sent to one instance lock the account on another."""
    name = f"spread-{uuid.uuid4().hex[:8]}"
    redis = {"SCHEDULER_RATE_LIMIT_REDIS_URL": REDIS_URL}
    with another_instance(app, redis) as first, another_instance(app, redis) as second:
        for index in range(THRESHOLD):
            client = (first if index % 2 else second).client
            assert attempt(client, name, "wrong").status_code == 401
        assert_locked(attempt(first.client, name, "wrong"))
        assert_locked(attempt(second.client, name, "wrong"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def locked_for(backoff: LoginBackoff, username: str) -> int:
    try:
        asyncio.run(backoff.check(username))
    except ApiError as refused:
        return int(refused.headers["Retry-After"])
    return 0


def test_each_failure_past_the_threshold_doubles_the_lockout() -> None:
    clock = Clock()
    backoff = LoginBackoff(MemoryFailureLog(), clock)
    for _ in range(THRESHOLD - 1):
        asyncio.run(backoff.failed("admin"))
    assert locked_for(backoff, "admin") == 0
    waits = []
    for _ in range(4):
        asyncio.run(backoff.failed("admin"))
        waits.append(locked_for(backoff, "admin"))
        clock.now += waits[-1]  # wait the lockout out, then fail again
        assert locked_for(backoff, "admin") == 0
    assert waits == [60, 120, 240, 480]
    # 900 s on, the first five have left the window: with this one, four are left.
    asyncio.run(backoff.failed("admin"))
    assert locked_for(backoff, "admin") == 0
    asyncio.run(backoff.failed("admin"))
    assert locked_for(backoff, "admin") == BASE_LOCK_SECONDS


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    backoff = LoginBackoff(MemoryFailureLog(), clock)
    for _ in range(THRESHOLD):
        asyncio.run(backoff.failed("admin"))
    assert locked_for(backoff, "admin") == BASE_LOCK_SECONDS
    clock.now += WINDOW_SECONDS + 1
    assert locked_for(backoff, "admin") == 0
    asyncio.run(backoff.failed("admin"))  # one new failure is far below the threshold
    assert locked_for(backoff, "admin") == 0


@pytest.mark.parametrize(
    ("failures", "seconds"), [(0, 0), (4, 0), (5, 60), (6, 120), (9, 900), (50, 900)]
)
def test_lock_seconds(failures: int, seconds: int) -> None:
    assert lock_seconds(failures) == seconds
