"""The suite's own safety net (tests/conftest.py) really stops off-machine traffic."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import OffMachineNetworkError


def test_resolving_a_public_name_is_refused_before_any_query() -> None:
    with pytest.raises(OffMachineNetworkError, match="loopback only"):
        socket.getaddrinfo("example.org", 443)


def test_connecting_beyond_loopback_is_refused_before_any_packet() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(OffMachineNetworkError),
    ):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1; refused before a SYN is sent
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.connect_ex(("127.0.0.1", 9))  # loopback is not intercepted


def test_loopback_still_resolves() -> None:
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("::ffff:127.0.0.1", 80)
