"""Suite-wide safety net: in-process code may only reach loopback.

Every test starts its own servers on 127.0.0.1 (or ::1). This fixture makes a mistake loud
instead of silent: resolving a name other than ``localhost`` or connecting a socket to a
non-loopback address raises at once, so no packet (not even a DNS query) leaves the machine.
Code that must refuse non-loopback addresses is tested with fake resolvers and connectors.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

# Only names every hosts file maps: "ip6-localhost" or "localhost.localdomain" may go to DNS.
_LOCAL_NAMES = frozenset({"localhost"})


def _is_local(host: object) -> bool:
    if host is None or host == "" or host == b"":
        return True  # binding to "any" address, or a local service lookup
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return address.is_loopback or address.is_unspecified


class OffMachineNetworkError(OSError):
    """A test tried to reach beyond loopback."""


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host):
            raise OffMachineNetworkError(f"test tried to resolve {host!r}: loopback only")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise OffMachineNetworkError(f"test tried to connect to {address!r}: loopback only")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
