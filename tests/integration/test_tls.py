"""HTTPS receivers: certificates verified by default, extra trust, mutual TLS, and
certificate failures reported as permanent, naming the host and the reason."""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from faxpush.core.models import AuthMethod
from faxpush.core.outcome import Verdict, classify
from faxpush.core.secrets import Secret
from faxpush.core.settings import Settings
from faxpush.core.targets import PushTarget
from faxpush.delivery.auth import TokenCache
from faxpush.delivery.http import Timeouts, session_from_settings
from faxpush.delivery.send import SendResult, send_push
from faxpush.delivery.tls import TlsContexts, TlsMaterialError

from .tls_servers import EXPIRED, Pki, alerting_tls_server, serve_tls

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
TIMEOUTS = Timeouts(connect=2, read=3, total=5)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@asynccontextmanager
async def session(ca_bundle: Path | None = None) -> AsyncIterator[aiohttp.ClientSession]:
    settings = Settings(
        allowed_networks=LOOPBACK, ca_bundle=None if ca_bundle is None else str(ca_bundle)
    )
    opened = session_from_settings(settings)
    try:
        yield opened
    finally:
        await opened.close()


async def push(s: aiohttp.ClientSession, target: PushTarget | str, **kw: Any) -> SendResult:
    if isinstance(target, str):
        target = PushTarget(url=target)
    return await send_push(
        s,
        url=target.url,
        body=b"<faxJobReport/>",
        content_type="text/xml",
        delivery_id="d-1",
        target=target,
        token_cache=TokenCache(),
        timeouts=TIMEOUTS,
        **kw,
    )


def assert_permanent_tls(result: SendResult, *words: str) -> None:
    assert result.error_class == "tls", result
    assert result.http_status is None
    assert classify(http_status=None, error_class=result.error_class).verdict is Verdict.FAILED
    message = result.error_message or ""
    assert "127.0.0.1" in message, message
    for word in words:
        assert word in message, message


async def test_valid_chain_trusted_through_the_ca_bundle(pki: Pki, tmp_path: Path) -> None:
    async with serve_tls(pki.server_context()) as receiver, session(pki.ca_file(tmp_path)) as s:
        result = await push(s, receiver.url("/hook"))
    assert (result.http_status, result.error_class) == (200, None)
    assert receiver.bodies == [b"<faxJobReport/>"]


async def test_verification_is_on_by_default(pki: Pki) -> None:
    async with serve_tls(pki.server_context()) as receiver, session() as s:
        result = await push(s, receiver.url())
    assert_permanent_tls(result, "unknown CA", "FAXPUSH_CA_BUNDLE")
    assert receiver.bodies == []


async def test_valid_chain_trusted_through_the_account_ca(pki: Pki) -> None:
    async with serve_tls(pki.server_context()) as receiver, session() as s:
        target = PushTarget(url=receiver.url(), ca_pem=pki.ca_pem())
        result = await push(s, target)
    assert (result.http_status, result.error_class) == (200, None)


async def test_expired_certificate_fails_for_good(pki: Pki, tmp_path: Path) -> None:
    context = pki.server_context(not_after=EXPIRED)
    async with serve_tls(context) as receiver, session(pki.ca_file(tmp_path)) as s:
        result = await push(s, receiver.url())
    assert_permanent_tls(result, "expired")


async def test_certificate_for_another_host_fails_for_good(pki: Pki, tmp_path: Path) -> None:
    context = pki.server_context("other.example")
    async with serve_tls(context) as receiver, session(pki.ca_file(tmp_path)) as s:
        result = await push(s, receiver.url())
    assert_permanent_tls(result, "mismatch")


async def test_self_signed_certificate_fails_for_good(pki: Pki, tmp_path: Path) -> None:
    context = pki.server_context(ca=pki.other_ca)
    async with serve_tls(context) as receiver, session(pki.ca_file(tmp_path)) as s:
        result = await push(s, receiver.url())
    assert_permanent_tls(result, "unknown CA")


async def test_required_client_certificate_missing_is_named(pki: Pki, tmp_path: Path) -> None:
    context = pki.server_context(client_cert_required=True)
    with alerting_tls_server(context) as port:
        async with session(pki.ca_file(tmp_path)) as s:
            result = await push(s, f"https://127.0.0.1:{port}/")
    assert_permanent_tls(result, "requires a client certificate", "--client-cert")


async def test_a_reset_instead_of_the_alert_hints_at_the_client_certificate(pki: Pki) -> None:
    # aiohttp's own server resets the connection when the handshake fails on its side; the
    # reset (a connect error, retried) usually wins the race against the alert ("tls").
    context = pki.server_context(client_cert_required=True)
    async with serve_tls(context) as receiver, session() as s:
        result = await push(s, PushTarget(url=receiver.url(), ca_pem=pki.ca_pem()))
    assert result.error_class in ("connect", "tls")
    assert "requires a client certificate" in (result.error_message or "")
    assert "--client-cert" in (result.error_message or "")


async def test_account_client_certificate_gives_mutual_tls(pki: Pki) -> None:
    cert, key = pki.client_pem()
    context = pki.server_context(client_cert_required=True)
    async with serve_tls(context) as receiver, session() as s:
        target = PushTarget(
            url=receiver.url(), ca_pem=pki.ca_pem(), client_cert=cert, client_key=Secret(key)
        )
        result = await push(s, target)
    assert (result.http_status, result.error_class) == (200, None)
    (peer,) = receiver.peer_certs
    assert "faxpush-client@example.org" in json.dumps(peer)


async def test_unusable_account_material_fails_for_good(pki: Pki) -> None:
    cert, _key = pki.client_pem()
    _other_cert, other_key = pki.client_pem("someone-else@example.org")
    async with session() as s:
        result = await push(
            s,
            PushTarget(url="https://127.0.0.1:9/", client_cert=cert, client_key=Secret(other_key)),
        )
    assert result.error_class == "tls"
    assert "client certificate and key cannot be loaded" in (result.error_message or "")


# --- the OAuth2 token URL follows the same rules -------------------------------------------


def token_endpoint(token: str) -> Any:
    async def issue(request: web.Request) -> web.StreamResponse:
        if request.path == "/token":
            return web.json_response({"access_token": token, "token_type": "Bearer"})
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.Response(status=401)
        return web.Response(text="ok")

    return issue


def oauth2_target(url: str, token_url: str, **tls: Any) -> PushTarget:
    return PushTarget(
        url=url,
        auth_method=AuthMethod.OAUTH2,
        principal="client-1",
        credentials=Secret("client-secret"),
        token_url=token_url,
        **tls,
    )


async def test_token_url_over_https_with_the_account_trust_and_client_cert(pki: Pki) -> None:
    cert, key = pki.client_pem()
    context = pki.server_context(client_cert_required=True)
    async with serve_tls(context, token_endpoint("tok-1")) as server, session() as s:
        target = oauth2_target(
            server.url("/hook"),
            server.url("/token"),
            ca_pem=pki.ca_pem(),
            client_cert=cert,
            client_key=Secret(key),
        )
        result = await push(s, target)
    assert (result.http_status, result.error_class) == (200, None), result
    assert result.auth_steps == ("oauth2 token fetched",)
    assert len(server.peer_certs) == 2  # token request and push, both with the client cert


async def test_token_url_certificate_failure_is_permanent(pki: Pki, tmp_path: Path) -> None:
    async with (
        serve_tls(pki.server_context()) as receiver,
        serve_tls(pki.server_context(not_after=EXPIRED), token_endpoint("tok")) as tokens,
        session(pki.ca_file(tmp_path)) as s,
    ):
        result = await push(s, oauth2_target(receiver.url(), tokens.url("/token")))
    assert_permanent_tls(result, "OAuth2 token endpoint", "expired")
    assert receiver.bodies == []


# --- contexts ---------------------------------------------------------------------------------


def test_contexts_are_cached_per_material_without_the_key(pki: Pki) -> None:
    cert, key = pki.client_pem()
    contexts = TlsContexts()
    target = PushTarget(url="https://x.example/", client_cert=cert, client_key=Secret(key))
    first = contexts.for_target(target)
    assert contexts.for_target(PushTarget(url="https://y.example/", ca_pem=None)) is (
        contexts.default
    )
    assert contexts.for_target(target) is first
    assert isinstance(first, ssl.SSLContext)
    body = key.splitlines()[1]
    assert all(body not in repr(part) for cache_key in contexts._contexts for part in cache_key)
    assert body not in repr(target)
    assert body not in repr(contexts)


def test_a_certificate_without_its_key_is_refused(pki: Pki) -> None:
    cert, _key = pki.client_pem()
    with pytest.raises(TlsMaterialError, match="--client-key"):
        TlsContexts().context(None, cert, None)


def test_an_unreadable_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    from faxpush.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="FAXPUSH_CA_BUNDLE"):
        TlsContexts(str(tmp_path / "missing.pem"))
