"""The API's uvicorn options at a real socket: who may name the client, and bounds on a head.

uvicorn serves a small ASGI app that answers the client address it was given,
with the options ``api_main`` starts the API with; no stack is needed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from api.http_server import server_options
from settings import Settings


async def echo_client(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = json.dumps({"client": scope["client"][0]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(tmp_path: Any, **env: str) -> Iterator[str]:
    """uvicorn on a free port with ``server_options`` of settings from ``env``: its base URL."""
    settings = Settings.from_env(
        {
            "SCHEDULER_DATA_DIR": str(tmp_path),
            "SCHEDULER_JWT_SECRET": "x" * 32,
            "SCHEDULER_API_PORT": str(free_port()),
            **env,
        }
    )
    options = server_options(settings)
    server = uvicorn.Server(uvicorn.Config(echo_client, lifespan="off", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.api_port}"
    finally:
        server.should_exit = True
        thread.join(10)


def client_seen(base: str, headers: dict[str, str]) -> str:
    response = httpx.get(base, headers=headers)
    assert response.status_code == 200, response.text
    seen: str = response.json()["client"]
    return seen


def test_forwarded_for_from_an_untrusted_peer_changes_nothing(tmp_path: Any) -> None:
    with serving(tmp_path) as base:
        assert client_seen(base, {"X-Forwarded-For": "203.0.113.9"}) == "127.0.0.1"
        assert client_seen(base, {"Forwarded": "for=203.0.113.9"}) == "127.0.0.1"


def test_forwarded_for_from_a_trusted_proxy_names_the_client(tmp_path: Any) -> None:
    with serving(tmp_path, SCHEDULER_TRUSTED_PROXIES="10.0.0.0/8,127.0.0.1") as base:
        assert client_seen(base, {"X-Forwarded-For": "203.0.113.9"}) == "203.0.113.9"


def test_a_proxy_not_in_the_list_is_not_trusted(tmp_path: Any) -> None:
    with serving(tmp_path, SCHEDULER_TRUSTED_PROXIES="10.0.0.1") as base:
        assert client_seen(base, {"X-Forwarded-For": "203.0.113.9"}) == "127.0.0.1"


@pytest.mark.parametrize("where", ["header", "target"])
def test_a_head_over_the_limit_is_431(tmp_path: Any, where: str) -> None:
    with serving(tmp_path, SCHEDULER_MAX_HEADER_BYTES="4096") as base:
        assert httpx.get(base, headers={"X-Fill": "a" * 3000}).status_code == 200
        if where == "header":
            response = httpx.get(base, headers={"X-A": "a" * 3000, "X-B": "b" * 3000})
        else:
            response = httpx.get(f"{base}/{'p' * 5000}")
        assert response.status_code == 431, response.text


def test_a_head_sent_too_slowly_loses_its_connection(tmp_path: Any) -> None:
    with serving(tmp_path, SCHEDULER_HEADER_TIMEOUT_SECONDS="0.5") as base:
        port = int(base.rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            # Nothing sent at all: closed too.
            assert idle.recv(1) == b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            # The server closes without answering; recv() returns at the close.
            assert slow.recv(1024) == b""
        # A complete request in time is served on the same server.
        assert client_seen(base, {}) == "127.0.0.1"
