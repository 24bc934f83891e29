"""The response envelope, built in one place, and the app-level exception handlers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import SQLAlchemyError
from temporalio.service import RPCError

from api.body import body_required
from api.errors import ApiError, ErrorCode
from api.timestamps import rfc3339

log = logging.getLogger(__name__)
T = TypeVar("T")


Timestamp = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
"""RFC 3339 UTC with ``Z``."""


class Envelope(msgspec.Struct, Generic[T], kw_only=True):
    """``{"success": true, "data": ...}``"""

    success: Annotated[bool, msgspec.Meta(extra_json_schema={"const": True})]
    data: T


class ErrorBody(msgspec.Struct):
    code: ErrorCode
    message: str
    details: Any
    """What the code needs said: ``field`` for a validation error, ``limit`` for a rate limit."""


class ErrorEnvelope(msgspec.Struct, kw_only=True):
    """``{"success": false, "error": {...}, "timestamp": ...}``"""

    success: Annotated[bool, msgspec.Meta(extra_json_schema={"const": False})]
    error: ErrorBody
    timestamp: Timestamp


def ok(data: T) -> Envelope[T]:
    return Envelope(success=True, data=data)


def _now() -> str:
    return rfc3339(datetime.now(UTC))


def error_response(error: ApiError) -> Response[ErrorEnvelope]:
    body = ErrorEnvelope(
        success=False,
        error=ErrorBody(code=error.code, message=error.message, details=error.details),
        timestamp=_now(),
    )
    return Response(body, status_code=error.status_code, headers=error.headers)


def _from_http_exception(exc: HTTPException) -> ApiError:
    if isinstance(exc, ValidationException):
        problems = exc.extra if isinstance(exc.extra, list) else []
        first = problems[0] if problems and isinstance(problems[0], dict) else {}
        field = str(first.get("key", "request"))
        message = str(first.get("message", exc.detail))
        if field == "data" and first.get("source") == "body":
            # The only body-level failure Litestar itself reports: no body at all.
            return body_required()
        return ApiError(
            422,
            ErrorCode.VALIDATION_ERROR,
            f"{field}: {message}",
            {"field": field, "message": message, "errors": problems},
        )
    if isinstance(exc, NotFoundException):
        return ApiError(404, ErrorCode.NOT_FOUND, "No such route")
    if isinstance(exc, MethodNotAllowedException):
        return ApiError(
            405, ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed", headers=exc.headers
        )
    if exc.status_code == 413:
        return ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, "Request body is too large")
    if exc.status_code == 400:
        return ApiError(400, ErrorCode.VALIDATION_ERROR, exc.detail)
    if exc.status_code >= 500:
        return ApiError(exc.status_code, ErrorCode.INTERNAL_ERROR, "Internal server error")
    return ApiError(exc.status_code, ErrorCode.VALIDATION_ERROR, exc.detail, headers=exc.headers)


def _value_the_database_refused(exc: Exception) -> bool:
    """A request value the database cannot store or compare, not a database outage.

    An id beyond the column's integer range (SQLite: ``OverflowError``; asyncpg:
    a ``ValueError`` while encoding), a NUL byte in text (Postgres SQLSTATE class
    22, "data exception").
    """
    if isinstance(exc, OverflowError):
        return True
    if not isinstance(exc, SQLAlchemyError):
        return False
    current: BaseException | None = getattr(exc, "orig", None)
    for _ in range(5):
        if current is None:
            return False
        if isinstance(current, ValueError | OverflowError):
            return True
        if str(getattr(current, "sqlstate", "") or "").startswith("22"):
            return True
        current = current.__cause__
    return False


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """Every failure leaves through here, framework-raised ones included."""
    if isinstance(exc, ApiError):
        return error_response(exc)
    if isinstance(exc, HTTPException):
        return error_response(_from_http_exception(exc))
    if _value_the_database_refused(exc):
        return error_response(
            ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                "A value is out of range or holds a character that cannot be stored",
            )
        )
    if isinstance(exc, SQLAlchemyError):
        log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            ApiError(503, ErrorCode.DATABASE_ERROR, "The database is unavailable; try again later")
        )
    if isinstance(exc, RPCError) or (
        isinstance(exc, RuntimeError) and "connect" in str(exc).lower()
    ):
        log.warning("Temporal error on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            ApiError(503, ErrorCode.MESSAGE_QUEUE_ERROR, "Temporal is unavailable; try again later")
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        ApiError(HTTP_500_INTERNAL_SERVER_ERROR, ErrorCode.INTERNAL_ERROR, "Internal server error")
    )
