"""Which addresses an HTTP task or a notification may reach, decided on the resolved address.

Link-local and cloud metadata addresses are always refused (they hand out
credentials of the machine the worker runs on); private, loopback and other
non-global addresses are refused too when ``SCHEDULER_HTTP_BLOCK_PRIVATE`` is
set. The check is made on every address a name resolves to, and the request
is then sent to the checked address, so DNS cannot swap it afterwards.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)


class BlockedAddress(Exception):
    """The destination may not be reached from a task."""


class ResolutionFailed(Exception):
    """The host name did not resolve (possibly a passing DNS failure)."""


def check_address(address: IPAddress, *, block_private: bool) -> None:
    """Raise ``BlockedAddress`` when a task may not connect to ``address``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES or address.is_link_local:
        raise BlockedAddress(f"{address} is a link-local or cloud metadata address")
    if address.is_multicast or address.is_reserved:
        raise BlockedAddress(f"{address} is not a unicast address")
    if block_private and not address.is_global:
        raise BlockedAddress(f"{address} is a private address (SCHEDULER_HTTP_BLOCK_PRIVATE)")


async def resolve_allowed(host: str, port: int, *, block_private: bool) -> str:
    """The address to connect to for ``host``; every address it resolves to must be allowed."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal, block_private=block_private)
        return str(literal)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        raise ResolutionFailed(f"cannot resolve {host!r}: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise ResolutionFailed(f"{host!r} resolved to no address")
    for address in addresses:
        check_address(address, block_private=block_private)
    return str(addresses[0])
