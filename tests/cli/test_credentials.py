"""The credentials file (0600, atomic, damaged files named) and when the client refreshes it.

The refresh rules are checked against a scripted server (``httpx.MockTransport``);
the stack test in ``tests/test_cli.py`` refreshes against the real API.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.client import ApiClient
from cli.connection import connect
from cli.credentials import Credentials, CredentialStore, config_dir
from cli.errors import ApiFailure, CliError, Unreachable

URL = "http://scheduler.test"
NOW = 1_000_000.0


def creds(access: str = "a1", refresh: str = "r1", expires_at: float = NOW + 3600) -> Credentials:
    return Credentials(URL, "admin", access, refresh, expires_at)


def test_config_dir_follows_xdg_config_home(tmp_path: Path) -> None:
    assert config_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "scheduler"
    assert config_dir({"XDG_CONFIG_HOME": "", "HOME": "/home/u"}) == Path(
        "/home/u/.config/scheduler"
    )


def test_saved_credentials_are_0600_in_a_0700_folder_whatever_the_umask(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "cfg" / "scheduler")
    store.directory.mkdir(parents=True)
    store.path.write_text("{}")
    store.path.chmod(0o644)
    old = os.umask(0)
    try:
        store.save(creds())
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == creds()
    assert [p.name for p in store.directory.iterdir()] == ["credentials.json"]
    fresh = CredentialStore(tmp_path / "new" / "scheduler")
    fresh.save(creds())
    assert stat.S_IMODE(fresh.directory.stat().st_mode) == 0o700


def test_a_damaged_file_is_named_with_a_hint(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.path.write_text("{not json")
    with pytest.raises(CliError, match="not a credentials file") as caught:
        store.load()
    assert caught.value.hint and "scheduler login" in caught.value.hint


class Server:
    """A scripted API: answers per path, and a record of what was asked."""

    def __init__(self, *, valid: set[str]) -> None:
        self.valid = set(valid)
        self.refreshes: list[str] = []
        self.seen: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/refresh":
            token = json.loads(request.content)["refresh_token"]
            self.refreshes.append(token)
            number = len(self.refreshes) + 1
            self.valid.add(f"a{number}")
            return ok(
                {"access_token": f"a{number}", "refresh_token": f"r{number}", "expires_in": 60}
            )
        header = request.headers.get("Authorization")
        self.seen.append(header)
        if header is None or header.removeprefix("Bearer ") not in self.valid:
            return error(401, "INVALID_TOKEN", "Token is invalid")
        return ok({"items": []})


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": data})


def error(status: int, code: str, message: str) -> httpx.Response:
    body = {
        "success": False,
        "error": {"code": code, "message": message, "details": None},
        "timestamp": "2026-01-01T00:00:00Z",
    }
    return httpx.Response(status, json=body)


def client(store: CredentialStore, server: Server, credentials: Credentials) -> ApiClient:
    store.save(credentials)
    return ApiClient(
        URL,
        store=store,
        credentials=credentials,
        clock=lambda: NOW,
        transport=httpx.MockTransport(server),
    )


def test_an_expiring_access_token_is_refreshed_before_the_request(tmp_path: Path) -> None:
    store, server = CredentialStore(tmp_path), Server(valid={"a1"})
    with client(store, server, creds(expires_at=NOW + 10)) as api:
        api.get("/api/tasks")
    assert server.refreshes == ["r1"]
    assert server.seen == ["Bearer a2"]
    assert store.load() == Credentials(URL, "admin", "a2", "r2", NOW + 60)


def test_a_refused_token_is_refreshed_once_and_the_request_repeated(tmp_path: Path) -> None:
    store, server = CredentialStore(tmp_path), Server(valid=set())
    with client(store, server, creds()) as api:
        api.get("/api/tasks")
    assert server.refreshes == ["r1"]
    assert server.seen == ["Bearer a1", "Bearer a2"]


def test_a_pair_another_command_refreshed_is_used_not_refreshed_again(tmp_path: Path) -> None:
    store, server = CredentialStore(tmp_path), Server(valid={"a9"})
    with client(store, server, creds(expires_at=NOW + 10)) as api:
        store.save(creds("a9", "r9"))
        api.get("/api/tasks")
    assert server.refreshes == []
    assert server.seen == ["Bearer a9"]


def test_a_revoked_login_asks_for_a_new_login(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)

    def revoked(request: httpx.Request) -> httpx.Response:
        return error(401, "INVALID_TOKEN", "Token is invalid")

    store.save(creds())
    api = ApiClient(URL, store=store, credentials=creds(), transport=httpx.MockTransport(revoked))
    with pytest.raises(CliError, match="expired or was revoked") as caught:
        api.get("/api/tasks")
    assert caught.value.hint and "scheduler login" in caught.value.hint


def test_the_error_envelope_becomes_its_code_and_message() -> None:
    def missing(request: httpx.Request) -> httpx.Response:
        return error(404, "TASK_NOT_FOUND", "Task with ID 9 not found")

    api = ApiClient(URL, api_key="sk_live_x", transport=httpx.MockTransport(missing))
    with pytest.raises(ApiFailure) as caught:
        api.get("/api/tasks/9")
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        404,
        "TASK_NOT_FOUND",
        "Task with ID 9 not found",
    )


def test_a_refused_connection_is_unreachable_exit_3() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    api = ApiClient(URL, api_key="sk_live_x", transport=httpx.MockTransport(refuse))
    with pytest.raises(Unreachable) as caught:
        api.get("/api/tasks")
    assert caught.value.exit_code == 3
    assert "Connection refused" in caught.value.message


def test_environment_overrides_the_stored_login(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(CliError, match="not logged in"):
        connect(env)
    CredentialStore(tmp_path / "scheduler").save(creds())
    assert connect(env).base_url == URL
    with pytest.raises(CliError, match=r"stored login is for http://scheduler\.test"):
        connect({**env, "SCHEDULER_URL": "http://elsewhere:8080"})
    keyed = connect({**env, "SCHEDULER_URL": "elsewhere:8080", "SCHEDULER_API_KEY": "sk_live_k"})
    assert keyed.base_url == "http://elsewhere:8080"
