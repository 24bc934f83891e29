"""``POST /api/codec/decode``: Temporal's remote codec protocol, for the Web UI and the CLI.

The body and the answer are ``{"payloads": [...]}`` in protobuf JSON (the
protocol the Web UI and ``temporal --codec-endpoint`` speak), not the API's
envelope; failures still leave in the envelope. Only decoding is offered:
an encode endpoint would sign whatever a caller sent, which is exactly what
the payload key keeps from anyone who reaches Temporal.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec
from google.protobuf import json_format
from litestar import Request, Response, post, route
from litestar.enums import HttpMethod
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_204_NO_CONTENT
from temporalio.api.common.v1 import Payloads

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.errors import ApiError, ErrorCode
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED
from workflows.payload_codec import SigningCodec

PATH = "/api/codec/decode"
_ALLOWED_HEADERS = "authorization, content-type, x-namespace"


def web_ui_origin(ui_url: str) -> str | None:
    """The origin (``scheme://host[:port]``) of the configured Web UI, if any."""
    parts = urlsplit(ui_url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _cors_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    """CORS answers for the configured Web UI's origin, and for nobody else."""
    allowed: str | None = request.app.state.codec_origin
    origin = request.headers.get("origin")
    if allowed is None or origin != allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


class CodecPayload(msgspec.Struct):
    """A Temporal payload in protobuf JSON: bytes as base64, empty fields left out."""

    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    data: str = ""


class CodecPayloads(msgspec.Struct):
    payloads: list[CodecPayload] = msgspec.field(default_factory=list)


@route(PATH, http_method=[HttpMethod.OPTIONS], include_in_schema=False)
async def codec_preflight(request: Request[Any, Any, Any]) -> Response[None]:
    """The browser's preflight: allowed only from the Web UI's origin (no credentials asked)."""
    return Response(None, status_code=HTTP_204_NO_CONTENT, headers=_cors_headers(request))


@post(
    PATH,
    guards=[requires(Permission.SYSTEM_READ)],
    tags=["system"],
    status_code=200,
    security=AUTHENTICATED,
    responses={
        200: ResponseSpec(
            CodecPayloads, description="The payloads, opened", generate_examples=False
        ),
        **error_responses(400, 403),
    },
    summary="Decode Temporal payloads for display (Temporal's remote codec protocol)",
    description=(
        'Body and answer are `{"payloads": [{"metadata": {...}, "data": "<base64>"}]}`. '
        "A payload signed with a configured key is returned opened (decrypted when "
        "`SCHEDULER_PAYLOAD_ENCRYPTION` sealed it, without its signature otherwise); any "
        "other payload is returned unchanged."
    ),
)
async def codec_decode(request: Request[Any, Any, Any]) -> Response[bytes]:
    codec: SigningCodec = request.app.state.codec
    raw = await request.body()
    try:
        payloads = json_format.Parse(raw or b"{}", Payloads())
    except json_format.ParseError as exc:
        raise ApiError(
            400, ErrorCode.VALIDATION_ERROR, f'Body must be {{"payloads": [...]}}: {exc}'
        ) from exc
    decoded = Payloads(payloads=[codec.readable(payload) for payload in payloads.payloads])
    return Response(
        json_format.MessageToJson(decoded, indent=None).encode(),
        media_type="application/json",
        headers=_cors_headers(request),
    )
