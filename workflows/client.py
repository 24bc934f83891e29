"""Connecting to Temporal, with the retries every process needs at start."""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows import search_attributes

log = logging.getLogger(__name__)

_INDEXED_TYPES = {
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


async def connect(address: str, namespace: str, within_seconds: float) -> Client:
    """A connected client, retrying with backoff (capped at 5 s); 0 seconds: retry forever."""
    deadline = time.monotonic() + within_seconds if within_seconds > 0 else float("inf")
    delay = 0.5
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except RuntimeError as exc:  # the SDK reports connection failures as RuntimeError
            if time.monotonic() >= deadline:
                raise
            log.warning(
                "Temporal at %s not reachable yet (%s); retrying in %.1fs", address, exc, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def register_search_attributes(client: Client) -> None:
    """Make sure ``TaskId``, ``TaskName`` and ``TaskType`` exist in the namespace."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    wanted = {
        name: _INDEXED_TYPES[kind]
        for name, kind in search_attributes.KINDS.items()
        if name not in existing.custom_attributes
    }
    if not wanted:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=wanted)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise
