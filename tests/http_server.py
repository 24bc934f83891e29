"""A small HTTP server on 127.0.0.1 for HTTP-task tests, counting hits per path."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self.hits: Counter[str] = Counter()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def running_server() -> Iterator[LocalServer]:
    holder: list[LocalServer] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self) -> None:
            path = self.path.split("?")[0]
            holder[0].hits[path] += 1
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if path == "/ok":
                self._send(200, b"pong")
            elif path == "/fail":
                self._send(500, b"upstream exploded")
            elif path == "/redirect":
                self._send(302, b"", {"Location": "/ok"})
            elif path == "/redirect-metadata":
                self._send(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
            elif path == "/slow":
                time.sleep(3)
                self._send(200, b"late")
            elif path == "/big":
                self._send(200, b"B" * 300_000)
            elif path == "/echo":
                echoed = {
                    "method": self.command,
                    "body": body.decode(),
                    "x-token": self.headers.get("X-Token"),
                    "host": self.headers.get("Host"),
                }
                self._send(200, json.dumps(echoed).encode(), {"Content-Type": "application/json"})
            else:
                self._send(404, b"no such path")

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(LocalServer(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
