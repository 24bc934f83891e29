"""Connecting to Temporal, with the retries every process needs at start."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from backoff import retry_with_backoff
from workflows import search_attributes

_INDEXED_TYPES = {
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


async def connect(address: str, namespace: str, within_seconds: float) -> Client:
    """A connected client, retrying with backoff (capped at 5 s); 0 seconds: retry forever."""
    return await retry_with_backoff(
        lambda: Client.connect(address, namespace=namespace),
        # The SDK reports connection failures as RuntimeError.
        retry_on=(RuntimeError,),
        within_seconds=within_seconds,
        what=f"Temporal at {address}",
    )


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
