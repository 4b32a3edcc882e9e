"""The address guard: pushes and token requests never reach internal networks by accident.

An address is refused when it is loopback, private, link-local, multicast, reserved,
unspecified, carrier-grade NAT (100.64.0.0/10), a cloud metadata address, or an IPv6 address
that embeds such an IPv4 address (``::ffff:a.b.c.d``, ``::a.b.c.d``, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``) — unless it lies in a network allowed with FAXPUSH_ALLOWED_NETWORKS.

Two checks are wired into the HTTP connector: :class:`GuardedResolver` drops refused
addresses from DNS answers, and :func:`guarded_socket_factory` checks the address each
socket is about to connect to, which also covers URLs with a literal IP address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.connector import AddrInfoType, SocketFactoryType

from faxpush.core.errors import AddressRefusedError

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
ALLOWED_NETWORKS_SETTING = "FAXPUSH_ALLOWED_NETWORKS"


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for the forms that route to it."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is refused by default, or None when it is a public address."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = refusal_reason(inner)
            if reason is not None:
                return f"an IPv6 form of {inner}, {reason}"
            if address not in _IPV4_COMPATIBLE:
                return None  # mapped, NAT64 or 6to4 form of a public IPv4 address
    checks = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address in _CGNAT, "a carrier-grade NAT address (100.64.0.0/10)"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a special-purpose address"),
    )
    return next((reason for hit, reason in checks if hit), None)


class BlockedAddressError(OSError):
    """Raised inside the connector for a refused address (an ``OSError`` so that aiohttp
    carries it through as the cause of its connection error)."""

    def __init__(self, address: str, reason: str, host: str | None = None) -> None:
        super().__init__(f"address {address} refused: {reason}")
        self.address = address
        self.reason = reason
        self.host = host

    def to_error(self, host: str | None = None) -> AddressRefusedError:
        """The faxpush error naming the host, the address and how to allow it."""
        name = host or self.host or self.address
        suggestion = f"{self.address}/32" if ":" not in self.address else f"{self.address}/128"
        where = f"{name!r}: it resolves to {self.address}" if name != self.address else name
        return AddressRefusedError(
            f"refused to connect to {where}, {self.reason}. "
            f"If this receiver is meant to be reachable, allow its network with "
            f"{ALLOWED_NETWORKS_SETTING} (comma-separated CIDRs, e.g. {suggestion})"
        )


class AddressGuard:
    """Decides which addresses may be connected to."""

    def __init__(self, allowed_networks: Iterable[IPNetwork] = ()) -> None:
        self.allowed_networks = tuple(allowed_networks)

    def _allowed(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(a in net for a in candidates for net in self.allowed_networks)

    def check(self, address: str, *, host: str | None = None) -> None:
        """Raise :class:`BlockedAddressError` unless ``address`` may be connected to."""
        try:
            parsed = ipaddress.ip_address(address.partition("%")[0])
        except ValueError:
            raise BlockedAddressError(address, "not an IP address", host) from None
        if self._allowed(parsed):
            return
        reason = refusal_reason(parsed)
        if reason is not None:
            raise BlockedAddressError(address, reason, host)


class GuardedResolver(AbstractResolver):
    """Wraps a resolver and keeps only the addresses the guard allows."""

    def __init__(self, inner: AbstractResolver, guard: AddressGuard) -> None:
        self._inner = inner
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host``; raise :class:`BlockedAddressError` when every answer is refused."""
        answers = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        first_refusal: BlockedAddressError | None = None
        for answer in answers:
            try:
                self._guard.check(answer["host"], host=host)
            except BlockedAddressError as refusal:
                first_refusal = first_refusal or refusal
                continue
            kept.append(answer)
        if not kept and first_refusal is not None:
            raise first_refusal
        return kept

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()


def guarded_socket_factory(guard: AddressGuard) -> SocketFactoryType:
    """A connector socket factory that checks the address each socket will connect to."""

    def make_socket(addr_info: AddrInfoType) -> socket.socket:
        family, kind, proto, _canonical, sockaddr = addr_info
        guard.check(str(sockaddr[0]))
        return socket.socket(family=family, type=kind, proto=proto)

    return make_socket
