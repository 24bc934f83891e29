"""Connecting to Temporal, with the retries every process needs at start."""

from __future__ import annotations

from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from backoff import retry_with_backoff
from settings import Settings
from workflows import search_attribute_names
from workflows.data_converter import data_converter

_INDEXED_TYPES = {
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS towards Temporal from ``TEMPORAL_TLS_*``; an API key alone (Temporal Cloud) needs TLS."""

    def read(path: str) -> bytes | None:
        return Path(path).read_bytes() if path else None

    if settings.temporal_tls_ca or settings.temporal_tls_cert:
        return TLSConfig(
            server_root_ca_cert=read(settings.temporal_tls_ca),
            client_cert=read(settings.temporal_tls_cert),
            client_private_key=read(settings.temporal_tls_key),
        )
    return bool(settings.temporal_api_key)


async def connect(
    settings: Settings, *, within_seconds: float | None = None, lazy: bool = False
) -> Client:
    """A client with the deployment's TLS, API key and signing data converter.

    Retries with backoff (capped at 5 s) for ``within_seconds`` (default:
    ``SCHEDULER_CONNECT_RETRY_SECONDS``; 0 = forever); ``lazy`` connects on first use.
    """
    return await retry_with_backoff(
        lambda: Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings),
            tls=tls_config(settings),
            api_key=settings.temporal_api_key or None,
            lazy=lazy,
        ),
        # The SDK reports connection failures as RuntimeError.
        retry_on=(RuntimeError,),
        within_seconds=settings.connect_retry_seconds if within_seconds is None else within_seconds,
        what=f"Temporal at {settings.temporal_address}",
    )


def executor_client(client: Client, settings: Settings) -> Client:
    """``client``'s connection with a converter that marks refused payloads instead of raising.

    The SDK wraps an error raised while decoding an activity's input as a
    retryable failure; executors need the refusal to be non-retryable, which
    ``worker.payload_guard`` makes of the mark.
    """
    config = client.config()
    config["data_converter"] = data_converter(settings, mark_rejected=True)
    return Client(**config)


async def register_search_attributes(client: Client) -> None:
    """Make sure ``TaskId``, ``TaskName`` and ``TaskType`` exist in the namespace."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    wanted = {
        name: _INDEXED_TYPES[kind]
        for name, kind in search_attribute_names.KINDS.items()
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
