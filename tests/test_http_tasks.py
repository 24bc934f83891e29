"""HTTP tasks end to end: the executor worker calls a real server on this machine."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.net_guard import BlockedAddress, check_address
from tests.conftest import Stack
from tests.helpers import Api, assert_error
from tests.http_server import BOMB_DECODED_BYTES, LocalServer, running_server

# The executors and the worker processes behave alike on either database (the
# mirror's SQL has its own tests on both): once, on Postgres when available.
pytestmark = pytest.mark.one_backend


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with running_server() as running:
        yield running


def http_task(api: Api, **parameters: Any) -> dict[str, Any]:
    retries = parameters.pop("max_retries", 0)
    return api.create_task(task_type="http", parameters=parameters, max_retries=retries)


def test_get_success_records_status_line_and_body(admin: Api, server: LocalServer) -> None:
    task = http_task(admin, url=f"{server.base}/ok")
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed", run
    assert run["result"] == "HTTP/1.1 200 OK\n\npong"
    assert run["worker_id"]


def test_post_sends_method_headers_and_body(admin: Api, server: LocalServer) -> None:
    task = http_task(
        admin,
        url=f"{server.base}/echo",
        method="POST",
        headers={"X-Token": "abc", "Content-Type": "application/json"},
        body='{"message": "hi"}',
    )
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed", run
    echoed = json.loads(run["result"].split("\n\n", 1)[1])
    assert echoed["method"] == "POST"
    assert echoed["body"] == '{"message": "hi"}'
    assert echoed["x-token"] == "abc"
    # Sent to the checked address, but with the URL's own Host header.
    assert echoed["host"] == server.base.removeprefix("http://")


def test_server_error_is_retried_then_failed(admin: Api, server: LocalServer) -> None:
    before = server.hits["/fail"]
    task = http_task(admin, url=f"{server.base}/fail", max_retries=2)
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed", run
    assert run["retry_count"] == 2
    assert "HTTP 500" in run["error_message"]
    assert "upstream exploded" in run["result"]
    assert server.hits["/fail"] - before == 3


def test_redirect_followed_or_not(admin: Api, server: LocalServer) -> None:
    followed = http_task(admin, url=f"{server.base}/redirect")
    run = admin.wait_for_run(admin.trigger(followed["id"]))
    assert run["status"] == "Completed", run
    assert run["result"].endswith("pong")
    not_followed = http_task(admin, url=f"{server.base}/redirect", follow_redirects=False)
    run = admin.wait_for_run(admin.trigger(not_followed["id"]))
    assert run["status"] == "Failed"
    assert "HTTP 302" in run["error_message"]


def test_timeout_ms_bounds_the_request(admin: Api, server: LocalServer) -> None:
    task = http_task(admin, url=f"{server.base}/slow", timeout_ms=500)
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed", run
    assert "timeout_ms=500" in run["error_message"]
    assert run["execution_duration_ms"] < 2500


def test_timeout_ms_bounds_the_whole_request_not_each_read(admin: Api, server: LocalServer) -> None:
    task = http_task(admin, url=f"{server.base}/trickle", timeout_ms=1500)
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed", run
    assert "timeout_ms=1500" in run["error_message"]
    assert run["execution_duration_ms"] < 3500


def test_a_compressed_body_is_decoded(admin: Api, server: LocalServer) -> None:
    task = http_task(admin, url=f"{server.base}/gzip")
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed", run
    assert run["result"].endswith("unpacked " * 10)


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


def test_a_gzip_bomb_is_capped_after_decoding(
    admin: Api, server: LocalServer, stack: Stack
) -> None:
    worker = stack.processes["http"].pid
    peak_before = _peak_rss_kib(worker)
    task = http_task(admin, url=f"{server.base}/gzip-bomb", timeout_ms=60_000)
    run = admin.wait_for_run(admin.trigger(task["id"]), timeout=90)
    assert run["status"] == "Completed", run
    assert run["result"].endswith("[... decoding stopped after 65536 bytes ...]")
    assert len(run["result"]) < 70 * 1024
    # A GiB decoded in 64 KiB network chunks grew the worker by a chunk's worth
    # of decoded bytes (64 MiB) at a time; bounded decoding adds next to nothing.
    assert _peak_rss_kib(worker) - peak_before < 32 * 1024, (peak_before, BOMB_DECODED_BYTES)


def test_large_body_is_bounded(admin: Api, server: LocalServer) -> None:
    task = http_task(admin, url=f"{server.base}/big")
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed"
    assert "bytes cut" in run["result"]
    assert len(run["result"]) < 70 * 1024


def test_metadata_address_is_always_refused(admin: Api, server: LocalServer) -> None:
    direct = http_task(admin, url="http://169.254.169.254/latest/meta-data/", max_retries=3)
    run = admin.wait_for_run(admin.trigger(direct["id"]))
    assert run["status"] == "Failed"
    assert "metadata" in run["error_message"]
    assert run["retry_count"] == 0  # refused, not retried
    via_redirect = http_task(admin, url=f"{server.base}/redirect-metadata")
    run = admin.wait_for_run(admin.trigger(via_redirect["id"]))
    assert run["status"] == "Failed"
    assert "metadata" in run["error_message"]


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"url": "ftp://example.com/x"}, "parameters.url"),
        ({"url": "http://"}, "parameters.url"),
        ({"url": "http://user:pw@example.com/"}, "parameters.url"),
        ({"url": "http://example.com/", "method": "BREW"}, "parameters.method"),
        ({"url": "http://example.com/", "body": "x"}, "parameters.body"),
        (
            {"url": "http://example.com/", "headers": {"Bad Header": "x"}},
            "parameters.headers.Bad Header",
        ),
        ({"url": "http://example.com/", "timeout_ms": 0}, "parameters.timeout_ms"),
        ({"url": "http://example.com/", "follow_redirects": "yes"}, "parameters.follow_redirects"),
        ({"url": "http://example.com/", "verify": False}, "parameters.verify"),
        ({}, "parameters.url"),
    ],
)
def test_bad_http_parameters_are_refused(
    admin: Api, parameters: dict[str, object], field: str
) -> None:
    response = admin.post(
        "/api/tasks",
        json={
            "name": "bad-http",
            "task_type": "http",
            "schedule": "0 0 1 1 *",
            "parameters": parameters,
        },
    )
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == field


@pytest.mark.parametrize(
    ("address", "block_private", "blocked"),
    [
        ("169.254.169.254", False, True),
        ("fe80::1", False, True),
        ("::ffff:169.254.169.254", False, True),
        ("100.100.100.200", False, True),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),
        ("10.1.2.3", True, True),
        ("192.168.1.1", True, True),
        ("::1", True, True),
        ("8.8.8.8", True, False),
        ("224.0.0.1", False, True),
    ],
)
def test_address_rules(address: str, block_private: bool, blocked: bool) -> None:
    ip = ipaddress.ip_address(address)
    if blocked:
        with pytest.raises(BlockedAddress):
            check_address(ip, block_private=block_private)
    else:
        check_address(ip, block_private=block_private)
