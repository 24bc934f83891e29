"""A small HTTP server on 127.0.0.1 for HTTP-task tests, counting hits per path."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOMB_DECODED_BYTES = 1 << 30
"""What ``/gzip-bomb`` decodes to: a GiB of zeros, about a MiB on the wire."""


def _gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(BOMB_DECODED_BYTES >> 20)]
    return b"".join(parts) + compressor.flush()


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
    bomb: list[bytes] = []

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
            elif path == "/trickle":
                # Every read is quick; the whole body takes four seconds.
                self.send_response(200)
                self.send_header("Content-Length", "8")
                self.end_headers()
                try:
                    for _ in range(8):
                        self.wfile.write(b".")
                        self.wfile.flush()
                        time.sleep(0.5)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up, as it should
            elif path == "/gzip":
                self._send(200, gzip.compress(b"unpacked " * 10), {"Content-Encoding": "gzip"})
            elif path == "/gzip-bomb":
                if not bomb:
                    bomb.append(_gzip_bomb())
                self._send(200, bomb[0], {"Content-Encoding": "gzip"})
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
