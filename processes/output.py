"""Bounded capture of a child's output: keeps the head and the tail, counts what was cut."""

from __future__ import annotations

import asyncio


class BoundedOutput:
    """At most ``limit`` bytes are kept, half from the start and half from the end."""

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]

    @property
    def cut(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    def text(self) -> str:
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if self.cut:
            return f"{head}\n[... {self.cut} bytes cut ...]\n{tail}"
        return head + tail

    def tail_text(self, limit: int) -> str:
        """The last ``limit`` characters, for error messages."""
        text = self.text()
        return text[-limit:] if len(text) > limit else text


async def pump(stream: asyncio.StreamReader, sink: BoundedOutput) -> None:
    """Read ``stream`` to its end into ``sink`` without holding more than its bound."""
    while chunk := await stream.read(65536):
        sink.feed(chunk)
