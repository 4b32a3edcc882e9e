"""The address guard, case by case, through the real sending path.

Every case is one push through :func:`send_push` on the session :func:`build_session` makes
(its real guarded resolver and socket factory), with two stand-ins so that no packet leaves
127.0.0.1: a scripted resolver instead of DNS, and a wire in place of the event loop's
``sock_connect``. The wire records the address of every connection the guard let through and
connects it to a local server on 127.0.0.1 instead; an address the case did not expect fails
the test without being connected to.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import ResolveResult
from yarl import URL

from faxpush.core.models import AuthMethod
from faxpush.core.outcome import Verdict, classify
from faxpush.core.settings import Settings
from faxpush.core.targets import PushTarget
from faxpush.core.urls import legacy_ipv4
from faxpush.delivery.checker import EndpointChecker
from faxpush.delivery.guard import (
    AddressGuard,
    BlockedAddressError,
    GuardedResolver,
    loopback_name_addresses,
)
from faxpush.delivery.send import SendResult
from faxpush.delivery.worker import delivery_engine
from faxpush.storage.base import NewPush, PushState
from faxpush.storage.memory import MemoryStore
from tests.integration.servers import ScriptedResolver, always_ok, push, push_session, serve

PUBLIC_V4 = "93.184.215.14"  # public addresses the wire turns into 127.0.0.1
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
TEREDO_10_0_0_1 = "2001:0:4136:e378:8000:63bf:f5ff:fffe"  # Teredo client 10.0.0.1
TEREDO_8_8_8_8 = "2001:0:4136:e378:8000:63bf:f7f7:f7f7"  # Teredo client 8.8.8.8
SETTING = "FAXPUSH_ALLOWED_NETWORKS"


class UnexpectedConnectError(AssertionError):
    """The guard let a connection through that the test did not expect."""


class Wire:
    """Stands in for ``loop.sock_connect``: connects every expected address to the local
    server on 127.0.0.1 (keeping the port), and refuses any other address unconnected."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._connect = loop.sock_connect
        self.expected: set[str] = set()
        self.attempts: list[str] = []

    async def __call__(self, sock: socket.socket, address: Any) -> None:
        host, port = str(address[0]), int(address[1])
        self.attempts.append(host)
        if host not in self.expected:
            raise UnexpectedConnectError(f"the guard let a connection to {host} through")
        if sock.family == socket.AF_INET6:
            await self._connect(sock, ("::ffff:127.0.0.1", port, 0, 0))
        else:
            await self._connect(sock, ("127.0.0.1", port))


@pytest.fixture
async def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    loop = asyncio.get_running_loop()
    stand_in = Wire(loop)
    monkeypatch.setattr(loop, "sock_connect", stand_in)
    return stand_in


REFUSED, INVALID, DELIVERED = "refused", "invalid", "delivered"


@dataclass(frozen=True)
class Case:
    host: str  # as written in the URL
    expect: str  # REFUSED, INVALID or DELIVERED
    address: str  # named by the refusal, or connected to
    reason: str = ""  # part of the refusal's reason
    dns: tuple[str, ...] | None = None  # the DNS answer for the host (None: never asked)
    allowed: tuple[str, ...] = ()  # FAXPUSH_ALLOWED_NETWORKS


def refused(
    host: str,
    address: str,
    reason: str,
    *,
    dns: tuple[str, ...] | None = None,
    allowed: tuple[str, ...] = (),
) -> Case:
    return Case(host, REFUSED, address, reason, dns, allowed)


def delivered(
    host: str, address: str, *, dns: tuple[str, ...] | None = None, allowed: tuple[str, ...] = ()
) -> Case:
    return Case(host, DELIVERED, address, "", dns, allowed)


def legacy(host: str, address: str) -> Case:
    return Case(host, INVALID, address, "legacy numeric IPv4 form")


LITERALS = [
    refused("10.0.0.1", "10.0.0.1", "a private address"),
    refused("10.255.255.254", "10.255.255.254", "a private address"),
    refused("172.16.0.1", "172.16.0.1", "a private address"),
    refused("172.31.255.254", "172.31.255.254", "a private address"),
    refused("192.168.1.1", "192.168.1.1", "a private address"),
    refused("127.0.0.1", "127.0.0.1", "a loopback address"),
    refused("127.1.2.3", "127.1.2.3", "a loopback address"),
    refused("0.0.0.0", "0.0.0.0", "the unspecified address"),
    refused("169.254.169.254", "169.254.169.254", "a cloud metadata address"),
    refused("169.254.1.1", "169.254.1.1", "a link-local address"),
    refused("100.64.0.1", "100.64.0.1", "carrier-grade NAT"),
    refused("100.127.255.254", "100.127.255.254", "carrier-grade NAT"),
    refused("198.18.0.1", "198.18.0.1", "a private address"),
    refused("198.19.255.254", "198.19.255.254", "a private address"),
    refused("224.0.0.1", "224.0.0.1", "a multicast address"),
    refused("239.255.255.250", "239.255.255.250", "a multicast address"),
    refused("255.255.255.255", "255.255.255.255", "the broadcast address"),
    refused("240.0.0.1", "240.0.0.1", "a private address"),
    refused("192.0.2.1", "192.0.2.1", "a private address"),
    refused("203.0.113.9", "203.0.113.9", "a private address"),
    refused("[::1]", "::1", "a loopback address"),
    refused("[::]", "::", "the unspecified address"),
    refused("[fe80::1]", "fe80::1", "a link-local address"),
    refused("[fe80::1%25eth0]", "fe80::1%25eth0", "a link-local address"),
    refused("[fe80::1%251]", "fe80::1%251", "a link-local address"),
    refused("[fc00::1]", "fc00::1", "a private address"),
    refused("[fd12:3456::1]", "fd12:3456::1", "a private address"),
    refused("[fec0::1]", "fec0::1", "a site-local address"),
    refused("[fec0::1%25eth0]", "fec0::1%25eth0", "a site-local address"),
    refused("[::ffff:127.0.0.1]", "::ffff:7f00:1", "an IPv6 form of 127.0.0.1, a loopback"),
    refused("[::ffff:10.0.0.1]", "::ffff:a00:1", "an IPv6 form of 10.0.0.1, a private"),
    refused("[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe", "of 169.254.169.254, a cloud"),
    refused("[::127.0.0.1]", "::7f00:1", "an IPv6 form of 127.0.0.1"),
    refused("[64:ff9b::a00:1]", "64:ff9b::a00:1", "an IPv6 form of 10.0.0.1"),
    refused("[64:ff9b::7f00:1]", "64:ff9b::7f00:1", "an IPv6 form of 127.0.0.1"),
    refused("[64:ff9b:1::a00:1]", "64:ff9b:1::a00:1", "a local-use NAT64 address"),
    refused("[2002:0a00:0001::]", "2002:a00:1::", "an IPv6 form of 10.0.0.1"),
    refused("[2002:7f00:1::1]", "2002:7f00:1::1", "an IPv6 form of 127.0.0.1"),
    refused(f"[{TEREDO_10_0_0_1}]", TEREDO_10_0_0_1, "(2001::/32) whose client is 10.0.0.1"),
    refused(f"[{TEREDO_8_8_8_8}]", TEREDO_8_8_8_8, "a Teredo tunnel address (2001::/32)"),
    refused("[2001:db8::1]", "2001:db8::1", "a private address"),
    refused("[3fff::1]", "3fff::1", "a documentation address"),
    refused("[ff02::1]", "ff02::1", "a multicast address"),
    refused("[fd00:ec2::254]", "fd00:ec2::254", "a cloud metadata address"),
    refused("[100::1]", "100::1", "a private address"),
]

LEGACY_FORMS = [
    legacy("127.1", "127.0.0.1"),
    legacy("2130706433", "127.0.0.1"),
    legacy("0x7f.1", "127.0.0.1"),
    legacy("0177.0.0.1", "127.0.0.1"),
    legacy("0x7f000001", "127.0.0.1"),
    legacy("127.0.0.1.", "127.0.0.1"),
    legacy("0", "0.0.0.0"),
    legacy("012.0.0.1", "10.0.0.1"),
    legacy("134744072", "8.8.8.8"),  # refused although public: systems disagree on it
]

LOOPBACK_NAMES = [
    refused("localhost", "127.0.0.1", "a loopback address"),
    refused("localhost.", "127.0.0.1", "a loopback address"),
    refused("LOCALHOST", "127.0.0.1", "a loopback address"),
    refused("LocalHost.", "127.0.0.1", "a loopback address"),
    refused("ip6-localhost", "::1", "a loopback address"),
    refused("ip6-localhost.", "::1", "a loopback address"),
    refused("ip6-loopback", "::1", "a loopback address"),
    refused("foo.localhost", "127.0.0.1", "a loopback address"),
    refused("a.b.localhost.", "127.0.0.1", "a loopback address"),
    refused("localhost.localdomain", "127.0.0.1", "a loopback address"),
    refused("\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54", "127.0.0.1", "loopback"),
]

RESOLVED_NAMES = [
    refused("internal.example.test", "10.0.0.5", "a private address", dns=("10.0.0.5",)),
    refused("internal.example.test.", "10.0.0.5", "a private address", dns=("10.0.0.5",)),
    refused("b\u00fccher.example.test", "192.168.0.10", "a private", dns=("192.168.0.10",)),
    refused("xn--bcher-kva.example.test", "192.168.0.10", "private", dns=("192.168.0.10",)),
    refused("\u4f8b\u3048.example.test.", "172.20.0.1", "a private", dns=("172.20.0.1",)),
    refused("meta.example.test", "169.254.169.254", "a cloud metadata", dns=("169.254.169.254",)),
    refused("v6.example.test", "fd00::5", "a private address", dns=("fd00::5",)),
    refused("mapped.example.test", "::ffff:127.0.0.1", "a loopback", dns=("::ffff:127.0.0.1",)),
    refused("teredo.example.test", TEREDO_10_0_0_1, "Teredo", dns=(TEREDO_10_0_0_1,)),
    refused("site.example.test", "fec0::5", "a site-local address", dns=("fec0::5",)),
    refused("zone.example.test", "fe80::1%eth0", "a link-local address", dns=("fe80::1%eth0",)),
    refused("cgnat.example.test", "100.100.0.1", "carrier-grade NAT", dns=("100.100.0.1",)),
    refused("any.example.test", "0.0.0.0", "the unspecified", dns=("0.0.0.0",)),
    refused(
        "all-internal.example.test",
        "10.0.0.1",
        "a private address",
        dns=("10.0.0.1", "192.168.0.1", "fd00::1", "127.0.0.1"),
    ),
]

PUBLIC = [
    delivered("public.example.test", PUBLIC_V4, dns=(PUBLIC_V4,)),
    delivered("public.example.test.", PUBLIC_V4, dns=(PUBLIC_V4,)),
    delivered("public6.example.test", PUBLIC_V6, dns=(PUBLIC_V6,)),
    delivered("mixed.example.test", PUBLIC_V4, dns=("10.0.0.1", PUBLIC_V4, "169.254.169.254")),
    delivered("mixed6.example.test", PUBLIC_V6, dns=("fd00::1", "::1", PUBLIC_V6)),
    delivered("localhost.example.test", PUBLIC_V4, dns=(PUBLIC_V4,)),  # not a localhost name
    delivered("b\u00fccher-public.example.test", PUBLIC_V4, dns=(PUBLIC_V4,)),
    delivered(PUBLIC_V4, PUBLIC_V4),
    delivered("[::ffff:93.184.215.14]", "::ffff:5db8:d70e"),
]

LOOPBACK_NETS = ("127.0.0.0/8",)
TEN = ("10.0.0.0/8",)
ALLOW_LIST = [
    delivered("127.0.0.1", "127.0.0.1", allowed=LOOPBACK_NETS),
    delivered("127.5.6.7", "127.5.6.7", allowed=LOOPBACK_NETS),
    delivered("localhost", "127.0.0.1", allowed=LOOPBACK_NETS),
    delivered("localhost.", "127.0.0.1", allowed=LOOPBACK_NETS),
    delivered("foo.localhost", "127.0.0.1", allowed=LOOPBACK_NETS),
    delivered("[::ffff:127.0.0.1]", "::ffff:7f00:1", allowed=LOOPBACK_NETS),
    refused("[::1]", "::1", "a loopback address", allowed=LOOPBACK_NETS),
    refused("ip6-localhost", "::1", "a loopback address", allowed=LOOPBACK_NETS),
    delivered("ip6-localhost", "::1", allowed=(*LOOPBACK_NETS, "::1/128")),
    refused("10.0.0.1", "10.0.0.1", "a private address", allowed=LOOPBACK_NETS),
    delivered("10.1.2.3", "10.1.2.3", allowed=TEN),
    delivered("internal.example.test", "10.9.9.9", dns=("10.9.9.9",), allowed=TEN),
    delivered("[::ffff:10.0.0.1]", "::ffff:a00:1", allowed=TEN),
    delivered("mixed.example.test", "10.0.0.7", dns=("192.168.0.7", "10.0.0.7"), allowed=TEN),
    refused("192.168.1.1", "192.168.1.1", "a private address", allowed=TEN),
    refused("office.example.test", "192.168.0.1", "private", dns=("192.168.0.1",), allowed=TEN),
    refused("172.16.0.1", "172.16.0.1", "a private address", allowed=TEN),
    refused("127.0.0.1", "127.0.0.1", "a loopback address", allowed=TEN),
    refused("localhost.", "127.0.0.1", "a loopback address", allowed=TEN),
    refused("169.254.169.254", "169.254.169.254", "a cloud metadata address", allowed=TEN),
    refused("[64:ff9b::a00:1]", "64:ff9b::a00:1", "an IPv6 form of 10.0.0.1", allowed=TEN),
    refused(f"[{TEREDO_10_0_0_1}]", TEREDO_10_0_0_1, "Teredo", allowed=TEN),
    refused("[2002:a00:1::]", "2002:a00:1::", "an IPv6 form of 10.0.0.1", allowed=TEN),
]


def _params(group: str, cases: list[Case]) -> Iterator[Any]:
    for case in cases:
        allowed = f" allowing {','.join(case.allowed)}" if case.allowed else ""
        yield pytest.param(case, id=f"{group}: {case.host}{allowed}")


MATRIX = [
    *_params("literal", LITERALS),
    *_params("legacy", LEGACY_FORMS),
    *_params("loopback name", LOOPBACK_NAMES),
    *_params("resolved", RESOLVED_NAMES),
    *_params("public", PUBLIC),
    *_params("allow-list", ALLOW_LIST),
]


def _check_verdict(case: Case, result: SendResult) -> None:
    verdict = classify(http_status=result.http_status, error_class=result.error_class).verdict
    message = result.error_message or ""
    if case.expect == DELIVERED:
        assert (result.http_status, result.error_class, verdict) == (200, None, Verdict.DELIVERED)
        return
    assert verdict is Verdict.FAILED, message  # permanent: never a pending retry
    assert result.http_status is None
    assert case.address in message
    assert case.reason in message
    if case.expect == REFUSED:
        assert result.error_class == "refused_address", message
        assert SETTING in message
        suggestion = message.partition("e.g. ")[2].removesuffix(")")
        ip_network(suggestion)  # the advice is a network the setting accepts
    else:
        assert result.error_class == "invalid_url", message


@pytest.mark.parametrize("case", MATRIX)
async def test_guard_matrix(wire: Wire, case: Case) -> None:
    url = f"http://{case.host}:{{port}}/push"
    query_name = URL(url.format(port=1)).raw_host
    assert query_name is not None
    script = {} if case.dns is None else {query_name: [list(case.dns)]}
    resolver = ScriptedResolver(script)
    if case.expect == DELIVERED:
        wire.expected.add(case.address)
    allowed = tuple(ip_network(network) for network in case.allowed)
    async with serve(always_ok) as server, push_session(allowed=allowed, resolver=resolver) as s:
        result = await push(s, url.format(port=server.port))
    _check_verdict(case, result)
    assert resolver.queries == ([] if case.dns is None else [query_name])
    if case.expect == DELIVERED:
        assert wire.attempts == [case.address]
        assert len(server.requests) == 1
    else:
        assert wire.attempts == []
        assert server.requests == []


def test_the_matrix_is_large_enough() -> None:
    assert len(MATRIX) >= 60


async def _force_close(_request: web.Request) -> web.StreamResponse:
    response = web.Response(text="ok")
    response.force_close()  # every push opens a new connection, so it resolves again
    return response


async def test_rebinding_to_a_private_address_is_refused_at_the_next_lookup(wire: Wire) -> None:
    host = "rebind.example.test"
    resolver = ScriptedResolver({host: [[PUBLIC_V4], ["10.0.0.1"]]})
    wire.expected.add(PUBLIC_V4)
    async with serve(_force_close) as server, push_session(allowed=(), resolver=resolver) as s:
        url = f"http://{host}:{server.port}/push"
        first = await push(s, url)
        assert isinstance(s.connector, aiohttp.TCPConnector)
        s.connector.clear_dns_cache()  # as if the short TTL of the first answer had run out
        second = await push(s, url)
    assert (first.http_status, first.error_class) == (200, None)
    assert second.error_class == "refused_address"
    assert "10.0.0.1" in (second.error_message or "")
    assert classify(http_status=None, error_class=second.error_class).verdict is Verdict.FAILED
    assert resolver.queries == [host, host]
    assert wire.attempts == [PUBLIC_V4]
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([[PUBLIC_V4], ["10.0.0.1"]], id="public then private"),
        pytest.param([[PUBLIC_V4], ["169.254.169.254"]], id="public then metadata"),
        pytest.param([[PUBLIC_V6], ["::ffff:127.0.0.1"]], id="public then mapped loopback"),
    ],
)
async def test_connect_time_check_alone_refuses_a_rebound_answer(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, answers: list[list[str]]
) -> None:
    """With the resolution-time filter bypassed, the check at connect time still refuses."""
    inner_resolve = ScriptedResolver.resolve

    async def unfiltered(
        self: GuardedResolver, host: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[ResolveResult]:
        return await inner_resolve(resolver, host, port, socket.AddressFamily(family))

    monkeypatch.setattr(GuardedResolver, "resolve", unfiltered)
    host = "rebind.example.test"
    resolver = ScriptedResolver({host: answers})
    wire.expected.add(answers[0][0])
    async with serve(_force_close) as server, push_session(allowed=(), resolver=resolver) as s:
        url = f"http://{host}:{server.port}/push"
        first = await push(s, url)
        assert isinstance(s.connector, aiohttp.TCPConnector)
        s.connector.clear_dns_cache()
        second = await push(s, url)
    assert (first.http_status, first.error_class) == (200, None)
    assert second.error_class == "refused_address", second.error_message
    assert answers[1][0] in (second.error_message or "")
    assert wire.attempts == [answers[0][0]]
    assert len(server.requests) == 1


async def test_an_empty_dns_answer_is_a_dns_failure_retried_later(wire: Wire) -> None:
    resolver = ScriptedResolver({"empty.example.test": [[]]})
    async with push_session(allowed=(), resolver=resolver) as s:
        result = await push(s, "http://empty.example.test/push")
    assert result.error_class == "connect", result.error_message
    assert "holds no address" in (result.error_message or "")
    assert classify(http_status=None, error_class="connect").verdict is Verdict.RETRY
    assert wire.attempts == []


async def test_token_url_on_a_loopback_name_is_refused_before_dns(wire: Wire) -> None:
    resolver = ScriptedResolver({"push.example.test": [[PUBLIC_V4]]})
    async with push_session(allowed=(), resolver=resolver) as s:
        result = await push(
            s,
            "http://push.example.test/push",
            method=AuthMethod.OAUTH2,
            principal="id",
            credentials="secret",
            token_url="http://ip6-localhost./token",
        )
    assert result.error_class == "refused_address", result.error_message
    assert "'ip6-localhost.': it resolves to ::1, a loopback address" in (
        result.error_message or ""
    )
    assert resolver.queries == []
    assert wire.attempts == []


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        (socket.AF_UNSPEC, ["127.0.0.1", "::1"]),
        (socket.AF_INET, ["127.0.0.1"]),
        (socket.AF_INET6, ["::1"]),
    ],
)
async def test_loopback_names_answer_each_address_family(
    family: socket.AddressFamily, expected: list[str]
) -> None:
    everywhere = (ip_network("0.0.0.0/0"), ip_network("::/0"))
    resolver = GuardedResolver(ScriptedResolver({}), AddressGuard(everywhere))
    answers = await resolver.resolve("localhost.", 80, family)
    assert [answer["host"] for answer in answers] == expected


async def test_the_resolver_refuses_legacy_forms_without_asking_dns() -> None:
    inner = ScriptedResolver({"0x7f.1": [["127.0.0.1"]]})
    everywhere = (ip_network("0.0.0.0/0"), ip_network("::/0"))
    resolver = GuardedResolver(inner, AddressGuard(everywhere))
    with pytest.raises(BlockedAddressError) as refused_error:
        await resolver.resolve("0x7f.1", 80, socket.AF_UNSPEC)
    assert "Write the address as 127.0.0.1" in str(refused_error.value.to_error())
    assert inner.queries == []


@pytest.mark.parametrize(
    ("host", "meaning"),
    [
        ("127.0.0.1", None),
        ("example.test", None),
        ("cafe", None),
        ("0xcafe.example", None),
        ("1.2.3.4.5", None),
        ("08.0.0.1", None),
        ("0x7F.1", "127.0.0.1"),
        ("1.1", "1.0.0.1"),
    ],
)
def test_legacy_ipv4_reads_only_numeric_hosts(host: str, meaning: str | None) -> None:
    found = legacy_ipv4(host)
    assert (None if found is None else str(found)) == meaning


@pytest.mark.parametrize(
    "host", ["localhost.example.test", "mylocalhost", "localhost-1", "ip6-localhost.example"]
)
def test_ordinary_names_are_not_loopback_names(host: str) -> None:
    assert loopback_name_addresses(host) is None


async def test_check_endpoint_uses_the_same_guard(wire: Wire) -> None:
    """check-endpoint builds its session with :func:`build_session`: same resolver, same
    guard; by default it may reach any address, --allow-network narrows that."""
    async with serve(always_ok) as server:
        url = f"http://localhost.:{server.port}/"
        narrowed = EndpointChecker(url, timeout=2, allowed_networks=(ip_network("10.0.0.0/8"),))
        refused_results = await narrowed.run()
        assert server.requests == []
        assert wire.attempts == []
        wire.expected.add("127.0.0.1")
        allowed_results = await EndpointChecker(url, timeout=2).run()
    assert refused_results[0].passed is False
    assert "refused to connect to 'localhost.'" in refused_results[0].detail
    assert allowed_results[0].passed is True
    assert set(wire.attempts) == {"127.0.0.1"}


async def test_the_worker_fails_refused_pushes_at_once_instead_of_retrying(wire: Wire) -> None:
    """The worker's own session (system resolver, no fake): loopback names and literals
    never reach DNS, and each refusal ends the push after one attempt. (No ``ip6-localhost``
    here: the suite's safety net lets that name through to the system resolver.)"""
    urls = {
        "localhost-dot": "http://localhost./push",
        "sub-localhost": "http://hooks.localhost./push",
        "legacy": "http://0x7f.1/push",
        "site-local": "http://[fec0::1]/push",
        "metadata": "http://169.254.169.254/latest/meta-data/",
    }
    store = MemoryStore()
    for delivery_id, url in urls.items():
        push_ = NewPush(
            delivery_id=delivery_id,
            job_id=f"FJ-{delivery_id}",
            target=PushTarget(url=url),
            content_type="application/xml",
            body=b"<faxJobReport/>",
        )
        await store.enqueue(push_, now=datetime.now(UTC))
    config = Settings(
        allowed_networks=(), retry_delays=(0, 0.05), retry_jitter=0, poll_interval=0.05
    )
    stop = asyncio.Event()
    async with delivery_engine(store, config, hooks=()) as engine:
        task = asyncio.create_task(engine.dispatcher.run(stop))
        try:
            for _ in range(200):  # at most 10 s
                counts = await store.count_by_state()
                if counts[PushState.PENDING] == counts[PushState.IN_FLIGHT] == 0:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    for delivery_id in urls:
        record = await store.get_push(delivery_id)
        assert record is not None
        assert (record.state, record.attempts) == (PushState.FAILED, 1), delivery_id
        attempts = await store.list_attempts(delivery_id)
        assert attempts[0].error_class in ("refused_address", "invalid_url"), delivery_id
    assert wire.attempts == []
