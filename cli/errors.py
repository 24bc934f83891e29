"""What can go wrong in a command, and the exit code each failure leaves with."""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
"""The command failed (the API refused it), or the run it waited for ended ``Failed``."""
EXIT_TIMEOUT = 2
"""The run ``run --wait`` followed ended ``Timeout``."""
EXIT_UNREACHABLE = 3
"""The server could not be reached (connection refused, DNS, a timeout)."""
EXIT_USAGE = 64
"""Bad arguments (sysexits' EX_USAGE): kept apart from 2, which ``run --wait`` gives a timeout."""
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure to report to the user in one or a few lines, never as a traceback."""

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILED, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint
        self.lines: list[str] = []
        """Further lines (Rich markup) shown under the message: one per problem."""


class ApiFailure(CliError):
    """The API answered with its error envelope (or something that is not the envelope)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details


class Unreachable(CliError):
    """No answer from the server at all."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the scheduler at {url}: {reason}",
            exit_code=EXIT_UNREACHABLE,
            hint="is the server running? (make run) Set the address with "
            "`scheduler login --url URL` or SCHEDULER_URL",
        )
        self.url = url
