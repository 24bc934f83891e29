"""The request id: taken from the client's ``X-Request-ID`` when it is sane, else made up."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

HEADER = b"x-request-id"
MAX_LENGTH = 128

# Visible ASCII only: the id is echoed in a header and written into log lines.
_ACCEPTABLE = re.compile(rf"[!-~]{{1,{MAX_LENGTH}}}")


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's id if it is 1..128 visible ASCII characters, otherwise a fresh one."""
    for name, value in headers:
        if name.lower() == HEADER:
            candidate = value.decode("latin-1").strip()
            if _ACCEPTABLE.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex
