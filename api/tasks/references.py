"""What a task definition references by name or id that must exist: secrets, channels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError, ErrorCode, validation_error
from domain.secret_refs import references
from persistence import notification_store, secret_store


async def missing_references(
    session: AsyncSession, definitions: Sequence[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> list[list[ApiError]]:
    """For each ``(parameters, notifications)``, a 422 for every secret and then every
    notification channel it references that does not exist (one query of each for all)."""
    secrets = [list(references(parameters)) for parameters, _ in definitions]
    channels = [[item["channel_id"] for item in notifications] for _, notifications in definitions]
    missing_secrets = set(
        await secret_store.missing(session, {name for found in secrets for _, name in found})
    )
    missing_channels = set(
        await notification_store.missing_channels(session, {id_ for ids in channels for id_ in ids})
    )
    problems = []
    for found, wanted in zip(secrets, channels, strict=True):
        errors = [
            validation_error(field, f"unknown secret {name!r}; create it first")
            for field, name in found
            if name in missing_secrets
        ]
        unknown = sorted(missing_channels.intersection(wanted))
        errors += [
            ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                f"notifications[{index}].channel_id: unknown notification channel {channel_id}",
                {"field": f"notifications[{index}].channel_id", "missing": unknown},
            )
            for index, channel_id in enumerate(wanted)
            if channel_id in missing_channels
        ]
        problems.append(errors)
    return problems
