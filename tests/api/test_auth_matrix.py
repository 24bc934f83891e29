"""Every route of the API against every kind of caller, one cell per pair.

Callers: no token, credentials that must not authenticate (malformed, expired,
wrong signature, ``alg: none``, another algorithm, wrong issuer or audience, a
refresh token, a logged-out token), the three roles, and an API key holding
each single permission. Each cell states its status and error code; a refused
cell changes nothing (the shared objects are checked at the end), a permitted
one works on throwaway objects so cells never interfere.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest

from settings import Settings
from tests.helpers import PASSWORDS, assert_error, unique
from tests.in_process import App
from tests.rows import add_workers, complete_run, remove_workers

pytestmark = pytest.mark.one_backend

ADMIN = "Admin"
ROLE_PERMISSIONS = {
    "admin": {ADMIN},
    "operator": {"TaskRead", "TaskWrite", "WorkerRead", "SystemRead"},
    "viewer": {"TaskRead", "WorkerRead", "SystemRead"},
}
ALL_PERMISSIONS = [
    "TaskRead",
    "TaskWrite",
    "TaskDelete",
    "WorkerRead",
    "WorkerWrite",
    "SystemRead",
    "SystemWrite",
    ADMIN,
]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    """With ``{task}``, ``{run}``, ``{worker}`` and ``{key}`` placeholders."""
    needs: str | None
    """The permission the route demands; ``None``: any valid credential."""
    success: int = 200
    users_only: bool = False
    """Refused (403) to API keys whatever they hold."""


ROUTES = [
    Route("POST", "/api/tasks", "TaskWrite", success=201),
    Route("GET", "/api/tasks", "TaskRead"),
    Route("GET", "/api/tasks/{task}", "TaskRead"),
    Route("PUT", "/api/tasks/{task}", "TaskWrite"),
    Route("PATCH", "/api/tasks/{task}", "TaskWrite"),
    Route("DELETE", "/api/tasks/{task}", "TaskDelete"),
    Route("POST", "/api/tasks/{task}/trigger", "TaskWrite", success=201),
    Route("GET", "/api/tasks/{task}/runs", "TaskRead"),
    Route("GET", "/api/tasks/{task}/stats", "TaskRead"),
    Route("GET", "/api/task-runs/{run}", "TaskRead"),
    Route("POST", "/api/task-runs/{run}/cancel", "TaskWrite", success=202),
    Route("GET", "/api/workers", "WorkerRead"),
    Route("GET", "/api/workers/{worker}", "WorkerRead"),
    Route("GET", "/api/workers/{worker}/stats", "WorkerRead"),
    Route("GET", "/api/system/health", "SystemRead"),
    Route("GET", "/api/system/stats", "SystemRead"),
    Route("GET", "/api/auth/validate", None),
    Route("POST", "/api/auth/logout", None),
    # A leaked key must not mint keys that outlive its own revocation: users only.
    Route("POST", "/api/auth/api-keys", ADMIN, success=201, users_only=True),
    Route("GET", "/api/auth/api-keys", ADMIN),
    Route("DELETE", "/api/auth/api-keys/{key}", ADMIN),
]

# Credentials that must not authenticate, with the code they are refused with.
BAD_CREDENTIALS = {
    "no-token": "AUTHENTICATION_REQUIRED",
    "malformed": "INVALID_TOKEN",
    "expired": "INVALID_TOKEN",
    "wrong-signature": "INVALID_TOKEN",
    "alg-none": "INVALID_TOKEN",
    "alg-hs512": "INVALID_TOKEN",
    "wrong-issuer": "INVALID_TOKEN",
    "wrong-audience": "INVALID_TOKEN",
    "refresh-as-access": "INVALID_TOKEN",
    "revoked": "INVALID_TOKEN",
}
ROLES = ["viewer", "operator", "admin"]
KEYS = [f"key:{permission}" for permission in ALL_PERMISSIONS]
CALLERS = [*BAD_CREDENTIALS, *ROLES, *KEYS]


def held_by(caller: str) -> set[str]:
    if caller in ROLE_PERMISSIONS:
        return ROLE_PERMISSIONS[caller]
    return {caller.removeprefix("key:")}


def expected(route: Route, caller: str) -> tuple[int, str | None]:
    """``(status, error code)`` of a cell; the code is ``None`` for success."""
    if caller in BAD_CREDENTIALS:
        return 401, BAD_CREDENTIALS[caller]
    held = held_by(caller)
    if route.users_only and caller.startswith("key:"):
        return 403, "INSUFFICIENT_PERMISSIONS"
    if route.needs is None or ADMIN in held or route.needs in held:
        return route.success, None
    return 403, "INSUFFICIENT_PERMISSIONS"


def task_body(prefix: str) -> dict[str, Any]:
    return {
        "name": unique(prefix),
        "task_type": "shell",
        "schedule": "0 0 1 1 *",
        "parameters": {"command": "echo matrix"},
    }


def forge(settings: Settings, subject: str, **overrides: Any) -> str:
    """A token of ``subject`` that is valid except for what ``overrides`` change."""
    now = int(time.time())
    secret = overrides.pop("secret", settings.jwt_secret)
    algorithm = overrides.pop("algorithm", "HS256")
    payload = {
        "sub": subject,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "fam": uuid.uuid4().hex,
        "iat": now - 60,
        "exp": now + 3600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        **overrides,
    }
    with warnings.catch_warnings():
        # HS512 with the stack's (short) secret: pyjwt warns, the API must refuse anyway.
        warnings.simplefilter("ignore")
        return jwt.encode(payload, secret, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """Shared objects (refused cells aim at them) and factories of throwaway ones."""

    http: httpx.Client
    admin_headers: dict[str, str]
    headers: dict[str, dict[str, str]]
    task_id: int
    task_snapshot: dict[str, Any]
    run_id: int
    worker_id: str
    victim_key_id: str
    victim_key: str
    waiting_task_id: int
    tasks_to_delete: list[int] = field(default_factory=list)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.admin_headers, **kwargs)

    def throwaway_task(self) -> int:
        response = self.admin("POST", "/api/tasks", json=task_body("matrix-throwaway"))
        assert response.status_code == 201, response.text
        task_id: int = response.json()["data"]["id"]
        self.tasks_to_delete.append(task_id)
        return task_id

    def open_run(self) -> int:
        """A run of the waiting task: Pending on a dependency that never completes."""
        response = self.admin("POST", f"/api/tasks/{self.waiting_task_id}/trigger")
        assert response.status_code == 201, response.text
        run_id: int = response.json()["data"]["task_run_id"]
        return run_id

    def throwaway_key(self) -> str:
        key_id, _ = create_key(self.http, self.admin_headers, ["TaskRead"])
        return key_id

    def fresh_login(self, username: str) -> str:
        response = self.http.post(
            "/api/auth/login", json={"username": username, "password": PASSWORDS[username]}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["data"]["access_token"]
        return token


def login(http: httpx.Client, username: str) -> dict[str, Any]:
    response = http.post(
        "/api/auth/login", json={"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def create_key(
    http: httpx.Client, headers: dict[str, str], permissions: list[str]
) -> tuple[str, str]:
    response = http.post(
        "/api/auth/api-keys",
        headers=headers,
        json={"name": unique("matrix-key"), "permissions": permissions, "expires_in_days": 1},
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return data["id"], data["api_key"]


def comparable(task: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k not in ("recent_runs", "execution_stats")}


@pytest.fixture(scope="module")
def world(app: App) -> Iterator[World]:
    settings = app.settings
    http = app.client
    admin_login = login(http, "admin")
    admin_id = admin_login["user"]["id"]
    admin_headers = bearer(admin_login["access_token"])

    headers: dict[str, dict[str, str]] = {"no-token": {}}
    for role in ROLES:
        headers[role] = bearer(login(http, role)["access_token"])
    for permission in ALL_PERMISSIONS:
        headers[f"key:{permission}"] = bearer(create_key(http, admin_headers, [permission])[1])

    revoked = login(http, "admin")["access_token"]
    assert http.post("/api/auth/logout", headers=bearer(revoked)).status_code == 200
    headers["revoked"] = bearer(revoked)
    headers["refresh-as-access"] = bearer(admin_login["refresh_token"])
    headers["malformed"] = bearer("not-a-token")
    headers["expired"] = bearer(forge(settings, admin_id, exp=int(time.time()) - 30))
    headers["wrong-signature"] = bearer(forge(settings, admin_id, secret=uuid.uuid4().hex))
    headers["alg-none"] = bearer(forge(settings, admin_id, secret=None, algorithm="none"))
    headers["alg-hs512"] = bearer(forge(settings, admin_id, algorithm="HS512"))
    headers["wrong-issuer"] = bearer(forge(settings, admin_id, iss="someone-else"))
    headers["wrong-audience"] = bearer(forge(settings, admin_id, aud="another-api"))
    assert set(headers) == set(CALLERS)

    def admin(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return http.request(method, path, headers=admin_headers, **kwargs)

    created = admin("POST", "/api/tasks", json=task_body("matrix-shared"))
    assert created.status_code == 201, created.text
    task_id = created.json()["data"]["id"]
    run_id = admin("POST", f"/api/tasks/{task_id}/trigger").json()["data"]["task_run_id"]
    complete_run(app, run_id)  # no worker runs in this process
    blocker = admin("POST", "/api/tasks", json=task_body("matrix-blocker")).json()["data"]
    waiting_body = {**task_body("matrix-waiting"), "dependencies": [blocker["id"]]}
    waiting = admin("POST", "/api/tasks", json=waiting_body)
    assert waiting.status_code == 201, waiting.text
    (worker_id,) = add_workers(app, ["Alive"])
    victim_key_id, victim_key = create_key(http, admin_headers, ["TaskRead"])

    world = World(
        http=http,
        admin_headers=admin_headers,
        headers=headers,
        task_id=task_id,
        task_snapshot=comparable(admin("GET", f"/api/tasks/{task_id}").json()["data"]),
        run_id=run_id,
        worker_id=worker_id,
        victim_key_id=victim_key_id,
        victim_key=victim_key,
        waiting_task_id=waiting.json()["data"]["id"],
    )
    yield world
    # Deleting a task deletes its schedule and cancels its open runs.
    for leftover in [*world.tasks_to_delete, world.waiting_task_id, blocker["id"], task_id]:
        admin("DELETE", f"/api/tasks/{leftover}")
    remove_workers(app, [worker_id])


def prepare(world: World, route: Route, caller: str, allowed: bool) -> tuple[str, Any]:
    """The path and body of a cell: shared objects when refused, throwaway ones when not."""
    ids: dict[str, Any] = {
        "task": world.task_id,
        "run": world.run_id,
        "worker": world.worker_id,
        "key": world.victim_key_id,
    }
    body: Any = None
    if route.method in ("PUT", "PATCH", "DELETE") and "{task}" in route.template and allowed:
        ids["task"] = world.throwaway_task()
    if route.template.endswith("/trigger") and allowed:
        ids["task"] = world.waiting_task_id
    if route.template.endswith("/cancel") and allowed:
        ids["run"] = world.open_run()
    if route.template.endswith("{key}") and allowed:
        ids["key"] = world.throwaway_key()
    if route.method == "POST" and route.template == "/api/tasks":
        body = task_body(f"matrix-{caller.replace(':', '-')}")
    elif route.method == "PUT":
        body = task_body("matrix-replaced")
    elif route.method == "PATCH":
        body = {"name": unique("matrix-patched"), "timeout_seconds": 900}
    elif route.method == "POST" and route.template == "/api/auth/api-keys":
        body = {"name": unique("matrix-minted"), "permissions": ["Admin"], "expires_in_days": 1}
    return route.template.format(**ids), body


def check_success(
    world: World, route: Route, caller: str, path: str, data: Any, headers: dict[str, str]
) -> None:
    """A permitted cell did what the route promises."""
    if route.method == "DELETE" or route.template == "/api/auth/logout":
        assert data is None
    if route.template == "/api/tasks/{task}" and route.method == "DELETE":
        assert_error(world.admin("GET", path), 404, "TASK_NOT_FOUND")
    elif route.template == "/api/tasks" and route.method == "POST":
        world.tasks_to_delete.append(data["id"])
        assert world.admin("GET", f"/api/tasks/{data['id']}").status_code == 200
    elif route.method in ("PUT", "PATCH"):
        assert world.admin("GET", path).json()["data"]["name"] == data["name"]
    elif route.template.endswith("/trigger"):
        assert world.admin("GET", f"/api/task-runs/{data['task_run_id']}").status_code == 200
    elif route.template.endswith("/cancel"):
        assert data["task_run_id"] == int(path.split("/")[3])
    elif route.template == "/api/auth/validate":
        assert data["valid"] is True
        assert set(data["permissions"]) == held_by(caller)
        assert data["kind"] == ("api_key" if caller.startswith("key:") else "user")
    elif route.template == "/api/auth/logout":
        after = world.http.get("/api/auth/validate", headers=headers)
        if caller.startswith("key:"):
            # Logout ends a session; a key has none and stays valid until revoked.
            assert after.status_code == 200, after.text
        else:
            assert_error(after, 401, "INVALID_TOKEN")
    elif route.template == "/api/auth/api-keys" and route.method == "POST":
        assert data["api_key"].startswith("sk_live_")
        revoked = world.admin("DELETE", f"/api/auth/api-keys/{data['id']}")
        assert revoked.status_code == 200, revoked.text
    elif route.template.endswith("{key}"):
        keys = world.admin("GET", "/api/auth/api-keys", params={"page_size": 100})
        (row,) = [k for k in keys.json()["data"]["items"] if k["id"] == path.rsplit("/", 1)[1]]
        assert row["revoked_at"] is not None
    elif route.template == "/api/task-runs/{run}":
        assert data["id"] == world.run_id
    elif route.template == "/api/tasks/{task}":
        assert data["id"] == world.task_id
    elif route.template == "/api/workers/{worker}":
        assert data["id"] == world.worker_id
    elif route.template.endswith("/runs"):
        assert [run["id"] for run in data["items"]] == [world.run_id]
    elif route.template == "/api/tasks/{task}/stats":
        assert data["total_runs"] == 1


CELLS = [
    pytest.param(route, caller, id=f"{caller}-{route.method} {route.template}")
    for route in ROUTES
    for caller in CALLERS
]


@pytest.mark.parametrize(("route", "caller"), CELLS)
def test_cell(world: World, route: Route, caller: str) -> None:
    status, code = expected(route, caller)
    allowed = code is None
    path, body = prepare(world, route, caller, allowed)
    headers = world.headers[caller]
    if allowed and route.template == "/api/auth/logout" and not caller.startswith("key:"):
        headers = bearer(world.fresh_login(caller))  # the shared token must survive
    response = world.http.request(route.method, path, headers=headers, json=body)
    if not allowed:
        assert code is not None
        error = assert_error(response, status, code)
        if code == "INSUFFICIENT_PERMISSIONS" and not route.users_only:
            assert route.needs is not None
            assert route.needs in f"{error['error']['message']} {error['error']['details']}"
        return
    assert response.status_code == status, response.text
    envelope = response.json()
    assert envelope["success"] is True, envelope
    check_success(world, route, caller, path, envelope["data"], headers)


def test_refused_cells_left_the_shared_objects_alone(world: World) -> None:
    """Runs after the matrix: no refused write reached the shared task, run or key."""
    task = world.admin("GET", f"/api/tasks/{world.task_id}")
    assert task.status_code == 200, task.text
    assert comparable(task.json()["data"]) == world.task_snapshot
    runs = world.admin("GET", f"/api/tasks/{world.task_id}/runs").json()["data"]
    assert [run["id"] for run in runs["items"]] == [world.run_id]
    assert world.admin("GET", f"/api/task-runs/{world.run_id}").json()["data"]["status"] == (
        "Completed"
    )
    victim = world.http.get("/api/auth/validate", headers=bearer(world.victim_key))
    assert victim.status_code == 200, victim.text
    for role in ROLES:
        still = world.http.get("/api/auth/validate", headers=world.headers[role])
        assert still.status_code == 200, still.text


def test_the_forged_tokens_fail_only_for_their_flaw(app: App, world: World) -> None:
    """Control: the forging itself is right, so each refused forgery is refused for its flaw."""
    settings = app.settings
    admin_id = world.admin("GET", "/api/auth/validate").json()["data"]["user_id"]
    response = world.http.get("/api/auth/validate", headers=bearer(forge(settings, admin_id)))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["permissions"] == [ADMIN]


def test_wrong_scheme_is_authentication_required(world: World) -> None:
    token = world.admin_headers["Authorization"].removeprefix("Bearer ")
    for value in (f"Token {token}", f"Basic {token}", "Bearer", token):
        response = world.http.get("/api/tasks", headers={"Authorization": value})
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")


def test_a_key_that_holds_admin_still_cannot_mint_keys(world: World) -> None:
    """As the code specifies: key creation is for users, so a leaked key cannot breed."""
    response = world.http.post(
        "/api/auth/api-keys",
        headers=world.headers["key:Admin"],
        json={"name": unique("bred"), "permissions": ["TaskRead"]},
    )
    error = assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")
    assert "api_key" not in error
