"""The type names of the failures that cross the Temporal boundary.

An activity raises ``ApplicationError(type=...)`` with one of these and the
workflow (or the retry policy it builds) tells them apart by the same name,
so both sides import them from here. The names are recorded in workflow
histories: changing one breaks the replay of runs that carry it.
"""

from __future__ import annotations

TASK_NOT_FOUND = "TaskNotFound"
"""``begin_run``: the task (or the triggered run) was deleted before the run began."""

INVALID_PARAMETERS = "InvalidParameters"
"""An executor refused the task's parameters; a retry cannot help."""

SECRET_MISSING = "SecretMissing"  # noqa: S105 (an error type, not a password)
"""A secret the parameters reference is gone (or unreadable with the configured keys)."""

TASK_FAILED = "TaskFailed"
"""An executor attempt failed for a reason of its own kind (the default)."""

COMMAND_FAILED = "CommandFailed"
"""A shell or Python process exited non-zero."""

HTTP_TRANSPORT_ERROR = "HttpTransportError"
HTTP_TIMEOUT = "HttpTimeout"
HTTP_DECODING_ERROR = "HttpDecodingError"
HTTP_STATUS_ERROR = "HttpStatusError"
HTTP_TOO_MANY_REDIRECTS = "HttpTooManyRedirects"


def run_ended(status: str) -> str:
    """The type of the error a run's workflow fails with when the run did not complete."""
    return f"Run{status}"


NOTIFICATION_UNDELIVERABLE = "NotificationUndeliverable"
"""A delivery that no retry can make: its channel is gone, unreadable or refused."""

NOTIFICATION_REFUSED = "NotificationRefused"
"""The receiver did not accept a delivery (no 2xx, a timeout, no connection): retried."""
