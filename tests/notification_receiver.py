"""A notification receiver on 127.0.0.1: keeps every request, answers as scripted."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    """What the receiver answered (0 while it has not)."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    base: str
    answers: list[int] = field(default_factory=list)
    """Statuses to answer, in order; ``otherwise`` once they are used up."""
    otherwise: int = 200
    hang: threading.Event | None = None
    """While set to a not-yet-set event, every request waits on it before answering."""
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"{self.base}{path}"

    def snapshot(self, path: str | None = None) -> list[Received]:
        """What arrived so far (at ``path`` only, when given)."""
        with self.lock:
            return [r for r in self.received if path is None or r.path == path]


def verify_signature(header: str, body: bytes, secret: str) -> bool:
    """Check ``X-Scheduler-Signature`` the way the README tells receivers to."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            receiver = holder[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            received = Received(self.path, dict(self.headers.items()), body)
            with receiver.lock:
                receiver.received.append(received)
                status = receiver.answers.pop(0) if receiver.answers else receiver.otherwise
            if receiver.hang is not None:
                receiver.hang.wait(60)
            received.status = status
            payload = b"ok" if status < 300 else b"nope"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    holder.append(Receiver(base=f"http://{host!s}:{port}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        if holder[0].hang is not None:
            holder[0].hang.set()
        server.shutdown()
        server.server_close()
