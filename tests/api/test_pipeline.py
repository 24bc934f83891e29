"""The request pipeline: authentication once, guards that only read it, the 429 envelope.

Its own app on a fresh SQLite file, behind Litestar's ``TestClient`` (these
routes never call Temporal; the app's client connects lazily).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from api.app import create_app
from api.auth.middleware import PUBLIC_PATHS
from api.auth.tokens import TokenClaims, TokenService
from settings import Settings
from tests.helpers import login

TASKS_LIMIT = 4


def settings_for(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "SCHEDULER_DATA_DIR": str(tmp_path),
            "SCHEDULER_JWT_SECRET": "pipeline-test-secret-" + "x" * 24,
            "SCHEDULER_RATE_LIMIT_TASKS": str(TASKS_LIMIT),
            "TEMPORAL_ADDRESS": "127.0.0.1:1",
        }
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(settings_for(tmp_path))) as test_client:
        yield test_client


def test_public_paths_are_exactly_the_routes_without_a_guard(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path))
    public = re.compile("|".join(PUBLIC_PATHS))
    seen_public = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.http_methods == {"OPTIONS"}:
                continue  # Litestar's own preflight answer: no guard, no credential read
            guarded = bool(handler.resolve_guards())
            is_public = public.search(route.path) is not None
            assert guarded != is_public, (route.path, handler.http_methods, guarded)
            if is_public:
                seen_public.add(route.path)
    # Control: each pattern names at least one served route.
    for pattern in PUBLIC_PATHS:
        assert any(re.search(pattern, path) for path in seen_public), pattern


def test_a_request_is_authenticated_once(
    client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    bearer = {"Authorization": f"Bearer {login(client, 'admin')}"}
    decoded: list[str] = []
    original = TokenService.decode

    def counting_decode(self: TokenService, raw: str, expected_type: str) -> TokenClaims:
        decoded.append(expected_type)
        return original(self, raw, expected_type)

    monkeypatch.setattr(TokenService, "decode", counting_decode)
    # One route per rate-limit class: the limiter and the guard read the one result.
    for path in ("/api/tasks", "/api/system/stats", "/api/auth/validate"):
        decoded.clear()
        response = client.get(path, headers=bearer)
        assert response.status_code == 200, (path, response.text)
        assert decoded == ["access"], path
    decoded.clear()
    assert client.get("/health", headers=bearer).status_code == 200
    assert decoded == []  # a public route looks nothing up


def test_bad_credentials_answer_401_until_their_ip_budget_is_spent(
    client: TestClient[Litestar],
) -> None:
    statuses = []
    for _ in range(TASKS_LIMIT):
        response = client.get("/api/tasks", headers={"Authorization": "Bearer junk"})
        assert response.headers["x-ratelimit-limit"] == str(TASKS_LIMIT)
        statuses.append((response.status_code, response.json()["error"]["code"]))
    assert statuses == [(401, "INVALID_TOKEN")] * TASKS_LIMIT
    refused = client.get("/api/tasks", headers={"X-Request-ID": "over-the-limit"})
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["success"] is False
    assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["error"]["details"]["limit"] == TASKS_LIMIT
    assert body["timestamp"].endswith("Z")
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.headers["cache-control"] == "no-store"
    assert refused.headers["x-request-id"] == "over-the-limit"
    # A verified caller has a budget of its own.
    own = client.get("/api/tasks", headers={"Authorization": f"Bearer {login(client, 'admin')}"})
    assert own.status_code == 200, own.text
    assert own.headers["x-ratelimit-remaining"] == str(TASKS_LIMIT - 1)
