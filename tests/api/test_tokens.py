"""Token life: claims, rotation, reuse detection, logout, and revocations that persist.

Revocations live in the database, so they hold on every API instance and
across restarts (the orchestrator's reconciler purging them once the token
they name has expired is in ``tests/test_reconciler.py``).
"""

from __future__ import annotations

import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from passlib.hash import argon2

from api.auth.passwords import PasswordHasher
from tests.credential_rows import add_user, password_hash, revocation_expiry
from tests.helpers import PASSWORDS, assert_error
from tests.in_process import App, another_instance

REQUIRED_CLAIMS = {"exp", "iat", "iss", "aud", "jti", "typ", "sub"}


@pytest.fixture
def http(app: App) -> httpx.Client:
    return app.client


def login(
    http: httpx.Client, username: str = "admin", password: str | None = None
) -> httpx.Response:
    return http.post(
        "/api/auth/login",
        json={"username": username, "password": password or PASSWORDS.get(username, "")},
    )


def tokens(http: httpx.Client, username: str = "admin") -> dict[str, Any]:
    response = login(http, username)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    return http.post("/api/auth/refresh", json={"refresh_token": refresh_token})


def validate(http: httpx.Client, access_token: str) -> httpx.Response:
    return http.get("/api/auth/validate", headers={"Authorization": f"Bearer {access_token}"})


def claims(token: str) -> dict[str, Any]:
    """The payload, unverified (the API verifies; the test only reads)."""
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def assert_works(http: httpx.Client, pair: dict[str, Any]) -> dict[str, Any]:
    """The access token authenticates and the refresh token rotates; returns the new pair."""
    assert validate(http, pair["access_token"]).status_code == 200
    rotated = refresh(http, pair["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    data: dict[str, Any] = rotated.json()["data"]
    return data


def test_tokens_carry_pinned_claims(app: App, http: httpx.Client) -> None:
    settings = app.settings
    pair = tokens(http)
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == settings.access_token_ttl_seconds
    access, refresh_claims = claims(pair["access_token"]), claims(pair["refresh_token"])
    for payload, typ, ttl in (
        (access, "access", settings.access_token_ttl_seconds),
        (refresh_claims, "refresh", settings.refresh_token_ttl_seconds),
    ):
        assert set(payload) >= REQUIRED_CLAIMS, payload
        assert payload["typ"] == typ
        assert payload["iss"] == settings.jwt_issuer
        assert payload["aud"] == settings.jwt_audience
        assert payload["exp"] - payload["iat"] == ttl
        assert abs(payload["iat"] - time.time()) < 60
    assert access["jti"] != refresh_claims["jti"]
    assert jwt.get_unverified_header(pair["access_token"])["alg"] == "HS256"
    assert pair["user"]["username"] == "admin"


def test_refresh_rotates_and_the_used_token_stops_working(http: httpx.Client) -> None:
    first = tokens(http)
    second = assert_works(http, first)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["user"]["username"] == "admin"
    assert claims(second["refresh_token"])["sub"] == claims(first["refresh_token"])["sub"]
    # The new pair works (the rotation below is its refresh token's one use).
    third = assert_works(http, second)
    assert validate(http, third["access_token"]).status_code == 200
    # The used one does not.
    assert_error(refresh(http, first["refresh_token"]), 401, "INVALID_TOKEN")


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    app: App, http: httpx.Client
) -> None:
    first = tokens(http)
    bystander = tokens(http)  # another login of the same user: another family
    time.sleep(1.1)  # so the rotated tokens expire later than the first ones (whole seconds)
    second = assert_works(http, first)
    third = assert_works(http, second)
    assert validate(http, third["access_token"]).status_code == 200

    # The first refresh token comes back: it may have been stolen.
    assert_error(refresh(http, first["refresh_token"]), 401, "INVALID_TOKEN")

    # Every token of that login is dead, the newest ones included ...
    for pair in (first, second, third):
        assert_error(validate(http, pair["access_token"]), 401, "INVALID_TOKEN")
    assert_error(refresh(http, third["refresh_token"]), 401, "INVALID_TOKEN")
    # ... for as long as the newest of them could live: the revocation is not
    # purged while a token of the family is still unexpired.
    family = claims(third["refresh_token"])["fam"]
    assert family == claims(first["refresh_token"])["fam"]
    kept_until = revocation_expiry(app, f"family:{family}")
    assert kept_until is not None
    assert kept_until.timestamp() >= claims(third["refresh_token"])["exp"]
    # Another login of the same user is untouched.
    assert_works(http, bystander)


def test_concurrent_use_of_one_refresh_token_rotates_it_once(http: httpx.Client) -> None:
    """Clients racing with the same refresh token: only one gets a new pair."""
    pair = tokens(http)

    def use(_: int) -> int:
        # Eight threads into the app's one event loop: the refreshes run interleaved.
        return refresh(http, pair["refresh_token"]).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(use, range(8)))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 401}, statuses


def test_access_and_refresh_tokens_are_not_interchangeable(http: httpx.Client) -> None:
    pair = tokens(http)
    assert_error(refresh(http, pair["access_token"]), 401, "INVALID_TOKEN")
    assert_error(validate(http, pair["refresh_token"]), 401, "INVALID_TOKEN")
    # Neither attempt spent anything: both tokens still do their own job.
    assert_works(http, pair)


@pytest.mark.parametrize(
    "token",
    ["garbage", "", "eyJhbGciOiJub25lIn0.eyJ0eXAiOiJyZWZyZXNoIn0."],
    ids=["garbage", "empty", "alg-none"],
)
def test_refresh_refuses_what_is_not_a_refresh_token(http: httpx.Client, token: str) -> None:
    response = refresh(http, token)
    assert response.status_code in (401, 422), response.text
    if response.status_code == 401:
        assert_error(response, 401, "INVALID_TOKEN")
    else:
        assert_error(response, 422, "VALIDATION_ERROR")


def test_logout_revokes_the_access_and_the_refresh_token(http: httpx.Client) -> None:
    pair = tokens(http)
    other = tokens(http)
    out = http.post("/api/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert out.status_code == 200, out.text
    assert out.json() == {"success": True, "data": None}
    assert_error(validate(http, pair["access_token"]), 401, "INVALID_TOKEN")
    assert_error(refresh(http, pair["refresh_token"]), 401, "INVALID_TOKEN")
    again = http.post(
        "/api/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert_error(again, 401, "INVALID_TOKEN")
    # Only that session ended.
    assert_works(http, other)


def test_logout_after_a_rotation_revokes_the_rotated_tokens_too(http: httpx.Client) -> None:
    first = tokens(http)
    second = assert_works(http, first)
    out = http.post(
        "/api/auth/logout", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert out.status_code == 200, out.text
    assert_error(refresh(http, second["refresh_token"]), 401, "INVALID_TOKEN")
    assert_error(validate(http, first["access_token"]), 401, "INVALID_TOKEN")


def test_revocations_hold_across_instances_and_survive_a_restart(
    app: App, http: httpx.Client
) -> None:
    on_main = tokens(http)
    with another_instance(app) as second:
        other = second.client
        # Control: instance B accepts what instance A issued.
        assert validate(other, on_main["access_token"]).status_code == 200
        on_second = tokens(other)
        assert validate(http, on_second["access_token"]).status_code == 200

        # Logged out on A: refused by B. Logged out on B: refused by A.
        headers = {"Authorization": f"Bearer {on_main['access_token']}"}
        assert http.post("/api/auth/logout", headers=headers).status_code == 200
        assert_error(validate(other, on_main["access_token"]), 401, "INVALID_TOKEN")
        assert_error(refresh(other, on_main["refresh_token"]), 401, "INVALID_TOKEN")
        headers = {"Authorization": f"Bearer {on_second['access_token']}"}
        assert other.post("/api/auth/logout", headers=headers).status_code == 200
        assert_error(validate(http, on_second["access_token"]), 401, "INVALID_TOKEN")
        assert_error(refresh(http, on_second["refresh_token"]), 401, "INVALID_TOKEN")
        still = tokens(other)

    # B restarted: nothing it knew lived only in its memory.
    with another_instance(app) as restarted:
        other = restarted.client
        for pair in (on_main, on_second):
            assert_error(validate(other, pair["access_token"]), 401, "INVALID_TOKEN")
            assert_error(refresh(other, pair["refresh_token"]), 401, "INVALID_TOKEN")
        assert validate(other, still["access_token"]).status_code == 200


# The suite hashes cheaply (tests.helpers.CHEAP_PASSWORD_HASHES); against a hash
# that costs a few milliseconds the skipped verification would not show.
DEPLOYED_COST = {
    "SCHEDULER_PASSWORD_HASH_ROUNDS": "3",
    "SCHEDULER_PASSWORD_HASH_MEMORY_KIB": "65536",
}


def test_login_failures_look_alike_and_take_comparable_time(app: App) -> None:
    # An account of its own: five failures lock an account for a while.
    username = f"timing-{uuid.uuid4().hex[:8]}"
    add_user(
        app, username, PasswordHasher(rounds=3, memory_kib=65536).hash(f"right-{uuid.uuid4().hex}")
    )
    with another_instance(app, DEPLOYED_COST) as deployed:
        http = deployed.client

        def attempt(username: str, password: str) -> tuple[float, dict[str, Any]]:
            started = time.perf_counter()
            response = login(http, username, password)
            elapsed = time.perf_counter() - started
            body = assert_error(response, 401, "AUTHENTICATION_REQUIRED")
            return elapsed, body["error"]

        login(http, f"warm-up-{uuid.uuid4().hex[:8]}", "x")  # the first request pays for set-up
        wrong_password: list[float] = []
        unknown_user: list[float] = []
        for _ in range(5):
            elapsed, first = attempt(username, f"wrong-{uuid.uuid4().hex}")
            wrong_password.append(elapsed)
            elapsed, second = attempt(f"nobody-{uuid.uuid4().hex[:8]}", "whatever")
            unknown_user.append(elapsed)
            assert first == second
    slow, fast = statistics.median(wrong_password), statistics.median(unknown_user)
    assert max(slow, fast) < 3 * min(slow, fast), (wrong_password, unknown_user)


def test_a_username_the_database_cannot_hold_is_a_validation_error(http: httpx.Client) -> None:
    """Postgres refuses NUL in text: the body rule says so before the query is made."""
    error = assert_error(login(http, "ad\x00min", "admin123"), 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"] == "username"


def test_a_hash_with_old_parameters_is_upgraded_at_login(app: App, http: httpx.Client) -> None:
    username = f"rehash-{uuid.uuid4().hex[:8]}"
    weak = argon2.using(type="ID", rounds=1, memory_cost=1024, parallelism=1).hash("s3cret-pw")
    add_user(app, username, weak)
    response = login(http, username, "s3cret-pw")
    assert response.status_code == 200, response.text
    upgraded = password_hash(app, username)
    assert upgraded != weak
    assert upgraded.startswith("$argon2id$")
    assert "m=1024,t=1,p=1" not in upgraded
    # Still the same password.
    assert login(http, username, "s3cret-pw").status_code == 200
    assert password_hash(app, username) == upgraded
    assert_error(login(http, username, "wrong"), 401, "AUTHENTICATION_REQUIRED")
