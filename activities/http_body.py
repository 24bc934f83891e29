"""An HTTP response body captured within the output bound, after its content decoding.

httpx decodes a compressed body one network chunk at a time, each chunk in
full: a 64 KiB chunk of a gzip bomb becomes 64 MiB in one call, and the
executor then read the whole decoded stream. Here the body is read raw and
decompressed with zlib's ``max_length`` so that no step yields more than the
room left under the bound, and decoding stops there: a compressed body costs
at most the output bound in memory and only the input it needed in time.
An uncompressed body keeps the executor's usual head-and-tail capture.
"""

from __future__ import annotations

import zlib

from processes.output import BoundedOutput

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS
_IDENTITY = {"", "identity"}
_COMPRESSIONS = {"gzip": _GZIP_WBITS, "x-gzip": _GZIP_WBITS, "deflate": _ZLIB_WBITS}


class UnsupportedEncoding(ValueError):
    """The response's ``Content-Encoding`` is one the executor cannot decode."""


class DecodingFailed(ValueError):
    """The compressed body is corrupt."""


def _compression(content_encoding: str | None) -> int | None:
    """zlib's ``wbits`` for the body's one compression layer; None for an uncompressed body."""
    layers = [
        layer.strip().lower()
        for layer in (content_encoding or "").split(",")
        if layer.strip().lower() not in _IDENTITY
    ]
    if not layers:
        return None
    if len(layers) > 1 or layers[0] not in _COMPRESSIONS:
        raise UnsupportedEncoding(
            f"Content-Encoding {content_encoding!r} is not supported (gzip or deflate, one layer)"
        )
    return _COMPRESSIONS[layers[0]]


class ResponseBody:
    """Feed raw body chunks until ``feed`` returns False; ``text()`` is the captured body."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self._limit = limit
        self._captured = BoundedOutput(limit)
        self._wbits = _compression(content_encoding)
        self._decoder = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._started = False
        self.stopped_at_bound = False

    def feed(self, raw: bytes) -> bool:
        """Take one raw chunk; False once the decoded bound is reached (stop reading)."""
        if self._decoder is None:
            self._captured.feed(raw)
            return True
        pending = raw
        while pending and not self.stopped_at_bound:
            # One byte past the bound tells a body of exactly ``limit`` bytes from a longer one.
            room = self._limit + 1 - self._captured.total
            decoded, pending = self._decompress(pending, room)
            if self._captured.total + len(decoded) > self._limit:
                decoded = decoded[: self._limit - self._captured.total]
                self.stopped_at_bound = True
            self._captured.feed(decoded)
            if self._decoder.eof:
                if self._wbits != _GZIP_WBITS:
                    break  # what follows a complete deflate stream is not body
                # Another gzip member may follow (concatenated gzip streams are one body).
                pending = self._decoder.unused_data + pending
                self._decoder = zlib.decompressobj(_GZIP_WBITS)
        return not self.stopped_at_bound

    def _decompress(self, data: bytes, room: int) -> tuple[bytes, bytes]:
        assert self._decoder is not None
        try:
            decoded = self._decoder.decompress(data, room)
        except zlib.error as exc:
            if self._wbits == _ZLIB_WBITS and not self._started:
                # "deflate" as some servers send it: a raw stream without the zlib header.
                self._wbits = _RAW_DEFLATE_WBITS
                self._decoder = zlib.decompressobj(self._wbits)
                return self._decompress(data, room)
            raise DecodingFailed(f"the compressed body is corrupt: {exc}") from exc
        self._started = True
        return decoded, self._decoder.unconsumed_tail

    def text(self) -> str:
        text = self._captured.text()
        if self.stopped_at_bound:
            return f"{text}\n[... decoding stopped after {self._limit} bytes ...]"
        return text
