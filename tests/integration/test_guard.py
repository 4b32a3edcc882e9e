"""The address guard: refused networks are never connected to, allowed ones work.

Refusals of non-loopback addresses are tested with a fake resolver and a spy on the event
loop's ``sock_connect`` that records every connection attempt and would stop one to a
non-loopback address: these tests never send a packet off this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

from faxpush.core.models import AuthMethod
from faxpush.delivery.guard import AddressGuard, BlockedAddressError, refusal_reason
from tests.integration.servers import (
    LOOPBACK,
    FakeResolver,
    OAuthServer,
    always_ok,
    push,
    push_session,
    serve,
)

HOST = "receiver.example.test"


class ConnectSpy:
    """Records the address of every socket connect; refuses to leave loopback."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.addresses: list[str] = []
        self._connect = loop.sock_connect

    async def __call__(self, sock: socket.socket, address: Any) -> None:
        host = str(address[0])
        self.addresses.append(host)
        parsed = ipaddress.ip_address(host.partition("%")[0])
        mapped = getattr(parsed, "ipv4_mapped", None)
        if not (parsed.is_loopback or (mapped is not None and mapped.is_loopback)):
            raise AssertionError(f"a test tried to connect to {host}")
        await self._connect(sock, address)


@pytest.fixture
async def spy(monkeypatch: pytest.MonkeyPatch) -> ConnectSpy:
    loop = asyncio.get_running_loop()
    connect_spy = ConnectSpy(loop)
    monkeypatch.setattr(loop, "sock_connect", connect_spy)
    return connect_spy


def _can_bind(host: str) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.1.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("::ffff:127.0.0.1", "IPv6 form of 127.0.0.1, a loopback"),
        ("::ffff:10.0.0.1", "IPv6 form of 10.0.0.1, a private"),
        ("64:ff9b::7f00:1", "IPv6 form of 127.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "IPv6 form of 169.254.169.254, a cloud metadata"),
        ("2002:a00:1::1", "IPv6 form of 10.0.0.1"),
        ("2002:6440:1::", "IPv6 form of 100.64.0.1"),
        ("::7f00:1", "IPv6 form of 127.0.0.1"),
        ("::808:808", "reserved"),
        ("2001:db8::1", "private"),
    ],
)
def test_refusal_reasons(address: str, reason: str) -> None:
    found = refusal_reason(ipaddress.ip_address(address))
    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None
    AddressGuard().check(address)


def test_allow_list_opens_exactly_the_listed_networks() -> None:
    guard = AddressGuard([ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.0/8")])
    guard.check("10.200.0.1")
    guard.check("::ffff:127.0.0.1")  # the IPv4-mapped form of an allowed address
    for refused in ("192.168.0.1", "100.64.0.1", "::1", "169.254.169.254"):
        with pytest.raises(BlockedAddressError):
            guard.check(refused)
    with pytest.raises(BlockedAddressError, match="not an IP address"):
        guard.check("not-an-address")


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "192.168.178.1",
        "169.254.169.254",
        "100.64.0.1",
        "fd00:ec2::254",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:a00:1::",
        "::a00:1",
        "224.0.0.1",
        "0.0.0.0",
        "fe80::1%1",
    ],
)
async def test_resolved_refused_addresses_are_never_connected(
    spy: ConnectSpy, address: str
) -> None:
    resolver = FakeResolver({HOST: [address]})
    async with push_session(allowed=LOOPBACK, resolver=resolver) as s:
        result = await push(s, f"http://{HOST}:8080/push")
    assert (result.http_status, result.error_class) == (None, "refused_address")
    assert result.error_message is not None
    assert HOST in result.error_message
    assert address in result.error_message
    assert "FAXPUSH_ALLOWED_NETWORKS" in result.error_message
    assert resolver.queries == [HOST]
    assert spy.addresses == []


async def test_only_allowed_answers_of_a_mixed_resolution_are_used(spy: ConnectSpy) -> None:
    async with serve(always_ok) as server:
        resolver = FakeResolver({HOST: ["10.0.0.5", "169.254.169.254", "127.0.0.1"]})
        async with push_session(allowed=LOOPBACK, resolver=resolver) as s:
            result = await push(s, f"http://{HOST}:{server.port}/push")
    assert (result.http_status, result.error_class) == (200, None)
    assert spy.addresses == ["127.0.0.1"]
    assert server.requests[0].headers["Host"] == f"{HOST}:{server.port}"


@pytest.mark.parametrize(
    ("url_host", "bind_host"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1.2.3", "127.1.2.3"),
        ("[::ffff:127.0.0.1]", "127.0.0.1"),
        ("[::1]", "::1"),
    ],
)
async def test_loopback_literals_need_the_allow_list(
    spy: ConnectSpy, url_host: str, bind_host: str
) -> None:
    if not _can_bind(bind_host):
        pytest.skip(f"this machine cannot listen on {bind_host} (no IPv6 loopback)")
    async with serve(always_ok, host=bind_host) as server:
        url = f"http://{url_host}:{server.port}/push"
        async with push_session(allowed=()) as s:
            refused = await push(s, url)
        assert refused.error_class == "refused_address"
        assert refused.error_message is not None
        assert "loopback" in refused.error_message
        assert server.requests == []
        assert spy.addresses == []
        async with push_session(allowed=LOOPBACK) as s:
            allowed = await push(s, url)
    assert (allowed.http_status, allowed.error_class) == (200, None)
    assert len(server.requests) == 1


async def test_names_resolved_by_the_system_resolver_are_checked(spy: ConnectSpy) -> None:
    async with serve(always_ok) as server, push_session(allowed=()) as s:
        result = await push(s, f"http://localhost:{server.port}/push")
    assert result.error_class == "refused_address"
    assert result.error_message is not None
    assert "'localhost'" in result.error_message
    assert server.requests == []
    assert spy.addresses == []


async def test_token_url_is_guarded_too(spy: ConnectSpy) -> None:
    token_host = "login.example.test"
    resolver = FakeResolver({token_host: ["10.9.8.7"]})
    async with (
        serve(OAuthServer("id", "secret")) as server,
        push_session(allowed=LOOPBACK, resolver=resolver) as s,
    ):
        result = await push(
            s,
            server.url("/push"),
            method=AuthMethod.OAUTH2,
            principal="id",
            credentials="secret",
            token_url=f"https://{token_host}/oauth/token",
        )
    assert result.error_class == "refused_address"
    assert result.error_message is not None
    assert token_host in result.error_message
    assert "10.9.8.7" in result.error_message
    assert server.requests == []
    assert spy.addresses == []


async def test_unresolvable_host_is_a_connect_error(spy: ConnectSpy) -> None:
    async with push_session(resolver=FakeResolver({})) as s:
        result = await push(s, f"http://{HOST}/push")
    assert result.error_class == "connect"
    assert result.error_message is not None
    assert "cannot resolve" in result.error_message
    assert spy.addresses == []
