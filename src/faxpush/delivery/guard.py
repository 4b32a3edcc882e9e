"""The address guard: pushes and token requests never reach internal networks by accident.

An address is refused when it is loopback, private, link-local, multicast, reserved,
unspecified, carrier-grade NAT (100.64.0.0/10), a cloud metadata address, or an IPv6 address
that embeds such an IPv4 address (``::ffff:a.b.c.d``, ``::a.b.c.d``, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``), a Teredo tunnel address, a site-local or a documentation address —
unless it lies in a network allowed with FAXPUSH_ALLOWED_NETWORKS.

Two checks are wired into the HTTP connector: :class:`GuardedResolver` drops refused
addresses from DNS answers, and :func:`guarded_socket_factory` checks the address each
socket is about to connect to, which also covers URLs with a literal IP address. Names that
always mean this machine (``localhost``, ``localhost.``, ``*.localhost`` per RFC 6761,
``ip6-localhost``…) never reach DNS: the resolver answers them with the loopback addresses,
which the guard then judges like any other answer. A host written as a legacy numeric IPv4
form (``0x7f.1``, ``0177.0.0.1``, ``2130706433``) is refused outright, allow-list or not:
systems disagree on what such a host means, and aiohttp refuses the all-digit ones as well.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.connector import AddrInfoType, SocketFactoryType

from faxpush.core.errors import AddressRefusedError
from faxpush.core.urls import legacy_ipv4

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Ranges the ipaddress module of Python 3.11 leaves global (fec0::/10, 3fff::/20) or
# names too vaguely ("a private address" for the broadcast address).
_NAMED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("255.255.255.255/32"), "the broadcast address"),
    (ipaddress.ip_network("fec0::/10"), "a site-local address (fec0::/10, deprecated)"),
    (ipaddress.ip_network("3fff::/20"), "a documentation address (3fff::/20)"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "a local-use NAT64 address (64:ff9b:1::/48)"),
)
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
    named = next((reason for net, reason in _NAMED_NETWORKS if address in net), None)
    if named is not None:
        return named
    if isinstance(address, IPv6Address) and address.teredo is not None:
        client = address.teredo[1]
        client_reason = refusal_reason(client)
        teredo = "a Teredo tunnel address (2001::/32)"
        return (
            teredo
            if client_reason is None
            else f"{teredo} whose client is {client}, {client_reason}"
        )
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
    carries it through as the cause of its connection error). ``fix`` replaces the
    default advice (allow the network) when allowing it would not help."""

    def __init__(
        self, address: str, reason: str, host: str | None = None, *, fix: str | None = None
    ) -> None:
        super().__init__(f"address {address} refused: {reason}")
        self.address = address
        self.reason = reason
        self.host = host
        self.fix = fix

    def to_error(self, host: str | None = None) -> AddressRefusedError:
        """The faxpush error naming the host, the address and how to allow it."""
        name = host or self.host or self.address
        bare = self.address.partition("%")[0]  # a zone id has no place in a network
        suggestion = f"{bare}/32" if ":" not in bare else f"{bare}/128"
        where = f"{name!r}: it resolves to {self.address}" if name != self.address else name
        fix = self.fix or (
            f"If this receiver is meant to be reachable, allow its network with "
            f"{ALLOWED_NETWORKS_SETTING} (comma-separated CIDRs, e.g. {suggestion})"
        )
        return AddressRefusedError(f"refused to connect to {where}, {self.reason}. {fix}")


_IPV6_LOOPBACK_NAMES = frozenset(
    {"ip6-localhost", "ip6-loopback", "localhost6", "localhost6.localdomain6"}
)
_LOOPBACK_NAMES = frozenset({"localhost.localdomain", "localhost4", "localhost4.localdomain4"})


def loopback_name_addresses(host: str) -> tuple[str, ...] | None:
    """The loopback addresses a name for this machine stands for, or None for other names.

    ``localhost`` and every name under it mean this machine (RFC 6761), with or without the
    trailing dot and in any case; the other names are the hosts-file aliases of Linux
    distributions. None of them is ever sent to DNS.
    """
    name = host.lower().removesuffix(".")
    if name in _IPV6_LOOPBACK_NAMES:
        return ("::1",)
    if name == "localhost" or name.endswith(".localhost") or name in _LOOPBACK_NAMES:
        return ("127.0.0.1", "::1")
    return None


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
        """Resolve ``host``; raise :class:`BlockedAddressError` when every answer is refused
        (and a DNS error, an ``OSError``, when there is no answer at all)."""
        answers = self._answer_locally(host, port, family)
        if answers is None:
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
        if first_refusal is not None and not kept:
            raise first_refusal
        if not kept:
            raise OSError(socket.EAI_NONAME, f"the DNS answer for {host} holds no address")
        return kept

    @staticmethod
    def _answer_locally(
        host: str, port: int, family: socket.AddressFamily
    ) -> list[ResolveResult] | None:
        """The answer for names that must not reach DNS, or None for ordinary names."""
        legacy = legacy_ipv4(host)
        if legacy is not None:
            raise BlockedAddressError(
                str(legacy),
                "written as a legacy numeric IPv4 form",
                host,
                fix=f"Write the address as {legacy} in the URL",
            )
        loopback = loopback_name_addresses(host)
        if loopback is None:
            return None
        families = {"127.0.0.1": socket.AF_INET, "::1": socket.AF_INET6}
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=families[address],
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in loopback
            if family in (socket.AF_UNSPEC, families[address])
        ]

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
