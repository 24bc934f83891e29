"""The error responses of each operation: declared where only the route knows, derived elsewhere.

A route declares what only it knows (``403``, ``404``, ``409``) with
:func:`error_responses`; :func:`derived_errors` adds what the pipeline in
front of every handler answers: the body decoder (400, 413, 415, 422), parameter
validation (422), the guard (401), the rate limiter (429), and the database or
Temporal behind any limited route (503).
"""

from __future__ import annotations

from litestar.openapi import ResponseSpec

from api.envelope import ErrorEnvelope

DESCRIPTIONS = {
    400: "Malformed JSON or no body (`VALIDATION_ERROR`)",
    401: "No credential, or one that is invalid, expired or revoked "
    "(`AUTHENTICATION_REQUIRED`, `INVALID_TOKEN`)",
    403: "The credential lacks the permission the route requires (`INSUFFICIENT_PERMISSIONS`)",
    404: "No such object",
    409: "The request conflicts with the current state",
    413: "The body is larger than the server accepts (`PAYLOAD_TOO_LARGE`)",
    415: "The body is declared as something other than JSON",
    422: "A field or parameter breaks a rule; `details.field` names it",
    429: "Rate limit exceeded (`RATE_LIMIT_EXCEEDED`); `Retry-After` says when to come back",
    503: "The database or Temporal is unavailable (`DATABASE_ERROR`, `MESSAGE_QUEUE_ERROR`)",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The error envelopes a route answers beyond what the pipeline derives."""
    return {
        status: ResponseSpec(
            ErrorEnvelope, description=DESCRIPTIONS[status], generate_examples=False
        )
        for status in statuses
    }


def derived_errors(
    *, has_body: bool, has_parameters: bool, secured: bool, limited: bool
) -> set[int]:
    """What the request pipeline can answer for an operation with these traits."""
    statuses: set[int] = set()
    if has_body:
        statuses |= {400, 413, 415, 422}
    if has_parameters:
        statuses.add(422)
    if secured:
        statuses.add(401)
    if limited:
        statuses |= {429, 503}
    return statuses
