"""The error codes of the contract and the one exception type that carries them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
    INVALID_TOKEN = "INVALID_TOKEN"
    INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    TASK_RUN_NOT_FOUND = "TASK_RUN_NOT_FOUND"
    WORKER_NOT_FOUND = "WORKER_NOT_FOUND"
    API_KEY_NOT_FOUND = "API_KEY_NOT_FOUND"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    DUPLICATE_USERNAME = "DUPLICATE_USERNAME"
    LAST_ADMIN = "LAST_ADMIN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    DUPLICATE_TASK_NAME = "DUPLICATE_TASK_NAME"
    INVALID_SCHEDULE = "INVALID_SCHEDULE"
    DEPENDENCY_CYCLE = "DEPENDENCY_CYCLE"
    TASK_HAS_DEPENDENTS = "TASK_HAS_DEPENDENTS"
    TASK_RUN_FINISHED = "TASK_RUN_FINISHED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    SECRET_NOT_FOUND = "SECRET_NOT_FOUND"
    DUPLICATE_SECRET_NAME = "DUPLICATE_SECRET_NAME"
    SECRET_IN_USE = "SECRET_IN_USE"
    CHANNEL_NOT_FOUND = "CHANNEL_NOT_FOUND"
    DUPLICATE_CHANNEL_NAME = "DUPLICATE_CHANNEL_NAME"
    CHANNEL_IN_USE = "CHANNEL_IN_USE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    DATABASE_ERROR = "DATABASE_ERROR"
    MESSAGE_QUEUE_ERROR = "MESSAGE_QUEUE_ERROR"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class ApiError(Exception):
    """Raised anywhere below a handler; the app's exception handler renders the envelope."""

    def __init__(
        self,
        status_code: int,
        code: ErrorCode,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def validation_error(field: str, message: str) -> ApiError:
    """422 ``VALIDATION_ERROR`` naming the field."""
    return ApiError(
        422,
        ErrorCode.VALIDATION_ERROR,
        f"{field}: {message}",
        {"field": field, "message": message},
    )


def task_not_found(task_id: int) -> ApiError:
    return ApiError(404, ErrorCode.TASK_NOT_FOUND, f"Task with ID {task_id} not found")


def run_not_found(run_id: int) -> ApiError:
    return ApiError(404, ErrorCode.TASK_RUN_NOT_FOUND, f"Task run with ID {run_id} not found")
