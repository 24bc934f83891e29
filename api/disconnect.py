"""Ending a long handler when its client goes away.

Neither uvicorn nor Litestar cancels a handler whose client disconnected:
the server only tells the application, through the next ``receive()``,
which answers ``http.disconnect``. A handler that holds a request for
minutes (a run wait) listens for it beside its work and drops the work as
soon as the client is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from litestar import Request, Response
from litestar.types import Receive

T = TypeVar("T")

CLIENT_CLOSED_REQUEST = 499
"""What proxies log for a client that hung up before the answer."""


class ClientGone(Exception):
    """The client disconnected before the answer was ready; nothing can be sent."""


async def _disconnected(receive: Receive) -> None:
    # Any body still unread is drained (the waiting routes take none); once it
    # is, receive() blocks until the connection closes.
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """``work``'s result; raises :class:`ClientGone` (``work`` cancelled) once the client of
    ``receive`` disconnects first."""
    working = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((working, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (working, gone):
            task.cancel()
    if working.done() and not working.cancelled():
        return working.result()
    await asyncio.gather(working, return_exceptions=True)
    raise ClientGone


def client_gone(_request: Request[Any, Any, Any], _exc: ClientGone) -> Response[None]:
    """The app's handler of :class:`ClientGone`: nothing reaches the client; the status is
    for the request's log line and metrics."""
    return Response(None, status_code=CLIENT_CLOSED_REQUEST)
