"""Who may call what: every route of the API against every kind of caller.

No token, a garbage token, a refresh token in place of an access token, an
expired or revoked token: 401. A role without the permission: 403, and nothing
changes. A role with it: the route answers with success.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from settings import Settings
from tests.helpers import PASSWORDS, Api, assert_error, unique
from tests.in_process import App
from tests.rows import complete_run


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """With ``{task}`` and ``{run}`` placeholders."""
    kind: str
    """``read``, ``write``, ``delete`` or ``session`` (any authenticated caller)."""
    body: str | None = None
    """``create``, ``replace`` or ``patch``: the kind of valid body to send."""
    success: int = 200


ROUTES = [
    Route("POST", "/api/tasks", "write", body="create", success=201),
    Route("GET", "/api/tasks", "read"),
    Route("GET", "/api/tasks/{task}", "read"),
    Route("PUT", "/api/tasks/{task}", "write", body="replace"),
    Route("PATCH", "/api/tasks/{task}", "write", body="patch"),
    Route("DELETE", "/api/tasks/{task}", "delete"),
    Route("POST", "/api/tasks/{task}/trigger", "write", success=201),
    Route("GET", "/api/tasks/{task}/runs", "read"),
    Route("GET", "/api/tasks/{task}/stats", "read"),
    Route("GET", "/api/task-runs/{run}", "read"),
    Route("GET", "/api/auth/validate", "session"),
    Route("POST", "/api/auth/logout", "session"),
]
ROUTE_PARAMS = [pytest.param(route, id=f"{route.method} {route.path}") for route in ROUTES]

ROLE_CAN = {
    "admin": {"read", "write", "delete", "session"},
    "operator": {"read", "write", "session"},
    "viewer": {"read", "session"},
}


def body_for(route: Route) -> dict[str, Any] | None:
    """A valid body for the route, with a fresh name so it never collides."""
    if route.body is None:
        return None
    if route.body == "patch":
        return {"timeout_seconds": 900, "name": unique("perm-patched")}
    return {
        "name": unique("perm"),
        "task_type": "shell",
        "schedule": "0 0 1 1 *",
        "parameters": {"command": "echo hi"},
    }


@dataclass(frozen=True)
class Resources:
    task_id: int
    run_id: int


@pytest.fixture(scope="module")
def resources(app: App) -> Resources:
    """A task and one of its runs (finished), for the requests that are refused anyway."""
    api = app.api("admin")
    task = api.create_task(name=unique("perm-target"))
    run_id = api.trigger(task["id"])
    complete_run(app, run_id)
    return Resources(task_id=task["id"], run_id=run_id)


def path_of(route: Route, task_id: int, run_id: int) -> str:
    return route.path.format(task=task_id, run=run_id)


def snapshot(api: Api, task_id: int) -> tuple[Any, ...]:
    """What a refused write must leave alone: the task list, the task and its runs."""
    listing = api.get("/api/tasks", params={"page_size": 1})
    task = api.get(f"/api/tasks/{task_id}")
    runs = api.get(f"/api/tasks/{task_id}/runs")
    assert listing.status_code == task.status_code == runs.status_code == 200
    data = task.json()["data"]
    return (
        listing.json()["data"]["total"],
        {k: v for k, v in data.items() if k not in ("recent_runs", "execution_stats")},
        runs.json()["data"]["total"],
    )


def login(http: httpx.Client, username: str, password: str) -> httpx.Response:
    return http.post("/api/auth/login", json={"username": username, "password": password})


# -- 401: no credentials or bad ones ------------------------------------------------


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_no_token_is_authentication_required(
    admin: Api, anonymous: Api, resources: Resources, route: Route
) -> None:
    before = snapshot(admin, resources.task_id)
    response = anonymous.request(
        route.method,
        path_of(route, resources.task_id, resources.run_id),
        json=body_for(route),
    )
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert snapshot(admin, resources.task_id) == before


def _forged(
    settings: Settings,
    *,
    secret: str,
    typ: str = "access",
    exp_offset: int = 3600,
    algorithm: str = "HS256",
    subject: str = "nobody",
) -> str:
    now = int(time.time())
    payload = {
        "sub": subject,
        "jti": uuid.uuid4().hex,
        "typ": typ,
        "fam": uuid.uuid4().hex,
        "iat": now - 7200,
        "exp": now + exp_offset,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return jwt.encode(payload, secret, algorithm=algorithm)


@pytest.fixture(scope="module")
def bad_tokens(app: App) -> dict[str, str]:
    """Tokens that must not authenticate, by kind."""
    settings = app.settings
    http = app.client
    response = login(http, "admin", PASSWORDS["admin"])
    assert response.status_code == 200, response.text
    refresh_token = response.json()["data"]["refresh_token"]
    admin_id = response.json()["data"]["user"]["id"]

    revoked = login(http, "admin", PASSWORDS["admin"]).json()["data"]["access_token"]
    out = http.post("/api/auth/logout", headers={"Authorization": f"Bearer {revoked}"})
    assert out.status_code == 200, out.text

    return {
        "garbage": "garbage",
        "garbage-jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "garbage-api-key": f"sk_live_{uuid.uuid4().hex}",
        "refresh-as-access": refresh_token,
        "wrong-secret": _forged(settings, secret=uuid.uuid4().hex, subject=admin_id),
        "expired": _forged(settings, secret=settings.jwt_secret, exp_offset=-60, subject=admin_id),
        "revoked": revoked,
    }


BAD_TOKEN_KINDS = [
    "garbage",
    "garbage-jwt",
    "garbage-api-key",
    "refresh-as-access",
    "wrong-secret",
    "expired",
    "revoked",
]


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_bad_token_is_invalid_token(
    admin: Api,
    anonymous: Api,
    resources: Resources,
    bad_tokens: dict[str, str],
    route: Route,
    kind: str,
) -> None:
    before = snapshot(admin, resources.task_id)
    response = anonymous.request(
        route.method,
        path_of(route, resources.task_id, resources.run_id),
        json=body_for(route),
        headers={"Authorization": f"Bearer {bad_tokens[kind]}"},
    )
    assert_error(response, 401, "INVALID_TOKEN")
    assert snapshot(admin, resources.task_id) == before


def test_forged_token_with_the_real_secret_is_accepted(app: App, anonymous: Api) -> None:
    """Control for the forged tokens above: only their flaw makes them fail."""
    settings = app.settings
    admin_id = login(app.client, "admin", PASSWORDS["admin"]).json()["data"]["user"]["id"]
    token = _forged(settings, secret=settings.jwt_secret, subject=admin_id)
    response = anonymous.get("/api/auth/validate", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["valid"] is True


# -- roles: 403 where the permission is missing, success where it is held -------------------


ROLE_ROUTE_PARAMS = [
    pytest.param(
        role,
        route,
        id=f"{role}-{route.method} {route.path}",
    )
    for role in ROLE_CAN
    for route in ROUTES
]


@pytest.mark.parametrize(("role", "route"), ROLE_ROUTE_PARAMS)
def test_role_matrix(
    request: pytest.FixtureRequest,
    admin: Api,
    resources: Resources,
    role: str,
    route: Route,
) -> None:
    caller: Api = request.getfixturevalue(role)
    if route.path == "/api/auth/logout":
        # A session of its own: ending the shared one would end it for the tests after this.
        caller = Api(caller.http, role)
    allowed = route.kind in ROLE_CAN[role]
    # A fresh task per request, so a permitted write (or delete) touches nothing shared.
    task = admin.create_task(name=unique(f"perm-{role}"))
    before = snapshot(admin, task["id"])
    response = caller.request(
        route.method, path_of(route, task["id"], resources.run_id), json=body_for(route)
    )
    if not allowed:
        error = assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")
        assert error["error"]["message"]
        assert snapshot(admin, task["id"]) == before
        return

    assert response.status_code == route.success, response.text
    body = response.json()
    assert body["success"] is True, body
    data = body["data"]
    if route.method == "DELETE" or route.path == "/api/auth/logout":
        assert data is None
    if route.method == "DELETE":
        assert_error(admin.get(f"/api/tasks/{task['id']}"), 404, "TASK_NOT_FOUND")
    elif route.path == "/api/auth/logout":
        assert_error(caller.get("/api/auth/validate"), 401, "INVALID_TOKEN")
    elif route.path == "/api/auth/validate":
        assert data["valid"] is True
        assert data["username"] == role
    elif route.method == "POST" and route.path == "/api/tasks":
        assert admin.get(f"/api/tasks/{data['id']}").status_code == 200
    elif route.path.endswith("/trigger"):
        assert caller.get(f"/api/task-runs/{data['task_run_id']}").status_code == 200
    elif route.method in ("PUT", "PATCH"):
        assert admin.get(f"/api/tasks/{task['id']}").json()["data"]["name"] == data["name"]
        assert data["name"] != task["name"]
    elif route.path == "/api/tasks":
        assert data["total"] >= 1
    elif route.path == "/api/task-runs/{run}":
        assert data["id"] == resources.run_id
    elif route.path.endswith("/runs"):
        assert data["total"] == 0
    elif route.path.endswith("/stats"):
        assert data["total_runs"] == 0
    else:
        assert data["id"] == task["id"]


def test_operator_cannot_delete(admin: Api, operator: Api) -> None:
    task = admin.create_task()
    error = assert_error(
        operator.delete(f"/api/tasks/{task['id']}"), 403, "INSUFFICIENT_PERMISSIONS"
    )
    assert "TaskDelete" in f"{error['error']['message']} {error['error']['details']}"
    assert admin.get(f"/api/tasks/{task['id']}").status_code == 200


@pytest.mark.parametrize(
    ("username", "permissions"),
    [
        ("admin", {"Admin"}),
        ("operator", {"TaskRead", "TaskWrite", "WorkerRead", "SystemRead"}),
        ("viewer", {"TaskRead", "WorkerRead", "SystemRead"}),
    ],
)
def test_roles_carry_the_documented_permissions(
    request: pytest.FixtureRequest, app: App, username: str, permissions: set[str]
) -> None:
    caller: Api = request.getfixturevalue(username)
    response = caller.get("/api/auth/validate")
    assert response.status_code == 200, response.text
    assert set(response.json()["data"]["permissions"]) == permissions


# -- login, health, schema ---------------------------------------------------------------


def test_wrong_password_and_unknown_user_look_the_same(anonymous: Api) -> None:
    wrong_password = login(anonymous.http, "admin", "not-the-password")
    unknown_user = login(anonymous.http, f"nobody-{uuid.uuid4().hex[:6]}", "whatever")
    first = assert_error(wrong_password, 401, wrong_password.json()["error"]["code"])
    second = assert_error(unknown_user, 401, first["error"]["code"])
    assert first["error"]["message"] == second["error"]["message"]
    assert "access_token" not in wrong_password.text


def test_health_needs_no_auth(anonymous: Api) -> None:
    response = anonymous.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["data"]["status"] == "healthy"


def test_openapi_schema_is_served(anonymous: Api) -> None:
    response = anonymous.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    assert "/api/tasks" in paths
    assert "/api/tasks/{task_id}" in paths
