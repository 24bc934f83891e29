"""What a new password must be: long enough, and not the username in disguise."""

from __future__ import annotations

from api.errors import ApiError, validation_error

MIN_PASSWORD_LENGTH = 10


def check_new_password(password: str, username: str, field: str = "password") -> None:
    """Raise 422 naming ``field`` when ``password`` may not be used by ``username``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _weak(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if username and username.casefold() in password.casefold():
        raise _weak(field, "must not contain the username")
    if password.strip() != password or not password.strip():
        raise _weak(field, "must not start or end with white space")


def _weak(field: str, message: str) -> ApiError:
    return validation_error(field, message)
