"""The four push auth methods against real servers on 127.0.0.1 with independent verifiers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession, web

from faxpush.core.digest import DigestChallenge
from faxpush.core.errors import StorageError
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import ClientAuthStyle
from faxpush.delivery.auth import DigestNonceCache, TokenCache
from faxpush.delivery.auth.token_cache import IssuedToken
from faxpush.delivery.http import DELIVERY_ID_HEADER, Timeouts
from faxpush.delivery.send import SendResult
from tests.integration.servers import (
    DigestServer,
    LocalServer,
    OAuthServer,
    basic_protected,
    push,
    push_session,
    serve,
)

BASIC = AuthMethod.HTTP_BASIC
DIGEST = AuthMethod.HTTP_DIGEST
OAUTH2 = AuthMethod.OAUTH2
SPECIAL_SECRET = "s3cret: with + special % chars"
CLIENT_ID = "faxpush client:1"

# --- HTTP_BASIC --------------------------------------------------------------------------


async def test_basic_credentials_are_sent_preemptively_in_utf8() -> None:
    async with serve(basic_protected("müller", "pä:ss wörd")) as server, push_session() as s:
        result = await push(
            s, server.url("/push"), method=BASIC, principal="müller", credentials="pä:ss wörd"
        )
    assert (result.http_status, result.error_class, result.error_message) == (200, None, None)
    assert result.auth_steps == ("basic",)
    assert len(server.requests) == 1


async def test_wrong_basic_credentials_are_reported_as_auth_failure() -> None:
    async with serve(basic_protected("user", "right")) as server, push_session() as s:
        result = await push(s, server.url("/"), method=BASIC, principal="user", credentials="wrong")
    assert (result.http_status, result.error_class) == (401, "auth")
    assert result.error_message is not None
    assert "'user'" in result.error_message
    assert "wrong" not in result.error_message
    assert len(server.requests) == 1


async def test_unsendable_or_missing_credentials_send_nothing() -> None:
    cases: list[dict[str, Any]] = [
        {"method": BASIC, "principal": "a:b", "credentials": "x"},
        {"method": BASIC, "principal": "a", "credentials": "line\r\nbreak"},
        {"method": DIGEST, "principal": "a", "credentials": "tab\x00"},
        {"method": DIGEST, "principal": "a"},
        {"method": OAUTH2, "principal": "a", "credentials": "b"},  # no token URL
        {"method": OAUTH2, "credentials": "b", "token_url": "http://127.0.0.1:9/t"},
    ]
    async with serve(basic_protected("a", "b")) as server, push_session() as s:
        results = [await push(s, server.url("/"), **case) for case in cases]
    assert [r.error_class for r in results] == ["auth"] * len(cases)
    assert all(r.http_status is None for r in results)
    assert results[0].error_message is not None
    assert "':'" in results[0].error_message
    assert server.requests == []


# --- HTTP_DIGEST -------------------------------------------------------------------------


async def _digest(
    s: ClientSession, server: LocalServer, path: str = "/", **options: Any
) -> SendResult:
    options = {"principal": "u", "credentials": "p"} | options
    return await push(s, server.url(path), method=DIGEST, **options)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])
async def test_digest_algorithms(algorithm: str) -> None:
    verifier = DigestServer("Mufasa", "Circle of Life", algorithms=(algorithm,))
    async with serve(verifier) as server, push_session() as s:
        result = await _digest(
            s, server, "/dir/index.html?job=FJ1", principal="Mufasa", credentials="Circle of Life"
        )
    assert (result.http_status, result.error_class) == (200, None)
    assert result.auth_steps == ("digest challenge",)
    assert [a for _n, _c, a in verifier.accepted] == [algorithm]
    assert len(server.requests) == 2
    first, second = server.requests
    assert first.body == second.body == b"<faxJobReport/>"
    assert first.headers[DELIVERY_ID_HEADER] == second.headers[DELIVERY_ID_HEADER] == "delivery-1"


async def test_digest_prefers_sha256_when_several_headers_are_offered() -> None:
    verifier = DigestServer("u", "p", algorithms=("MD5", "SHA-256", "MD5-sess"))
    async with serve(verifier) as server, push_session() as s:
        result = await _digest(s, server)
    assert result.http_status == 200
    assert [a for _n, _c, a in verifier.accepted] == ["SHA-256"]


async def test_digest_nonce_is_reused_across_pushes_with_increasing_nc() -> None:
    verifier = DigestServer("u", "p", algorithms=("SHA-256",))
    nonces = DigestNonceCache()
    async with serve(verifier) as server, push_session() as s:
        results = [
            await _digest(s, server, "/r", digest_cache=nonces, delivery_id=f"d{i}")
            for i in range(3)
        ]
    assert [r.http_status for r in results] == [200, 200, 200]
    assert [r.auth_steps for r in results] == [
        ("digest challenge",),
        ("digest nonce reused",),
        ("digest nonce reused",),
    ]
    assert len({nonce for nonce, _nc, _a in verifier.accepted}) == 1
    assert [nc for _nonce, nc, _a in verifier.accepted] == [1, 2, 3]
    assert len(server.requests) == 4  # one challenge, then one request per push


async def test_stale_nonce_gets_one_silent_retry() -> None:
    verifier = DigestServer("u", "p", algorithms=("MD5",))
    nonces = DigestNonceCache()
    async with serve(verifier) as server, push_session() as s:
        await _digest(s, server, digest_cache=nonces)
        verifier.expire_nonces()
        before = len(server.requests)
        result = await _digest(s, server, digest_cache=nonces)
        after = await _digest(s, server, digest_cache=nonces)
    assert (result.http_status, result.error_class) == (200, None)
    assert result.auth_steps == ("digest nonce reused", "digest stale retry")
    assert len(server.requests) - before == 3  # stale 401, retry, and the next push: 1
    assert after.auth_steps == ("digest nonce reused",)
    assert [nc for _n, nc, _a in verifier.accepted] == [1, 1, 2]


async def test_always_401_digest_receiver_costs_exactly_two_requests() -> None:
    verifier = DigestServer("u", "p", always_401=True)
    async with serve(verifier) as server, push_session() as s:
        result = await _digest(s, server)
    assert (result.http_status, result.error_class) == (401, "auth")
    assert result.auth_steps == ("digest challenge",)
    assert result.error_message is not None
    assert "HTTP_DIGEST" in result.error_message
    assert len(server.requests) == 2


async def test_wrong_digest_password_with_a_cached_nonce_is_rejected_after_two_requests() -> None:
    verifier = DigestServer("u", "right", algorithms=("SHA-256",))
    nonces = DigestNonceCache()
    async with serve(verifier) as server, push_session() as s:
        await _digest(s, server, credentials="right", digest_cache=nonces)
        before = len(server.requests)
        result = await _digest(s, server, credentials="wrong", digest_cache=nonces)
    assert (result.http_status, result.error_class) == (401, "auth")
    assert result.auth_steps == ("digest nonce reused", "digest challenge")
    assert len(server.requests) - before == 2
    assert nonces.size == 0  # the rejected protection space is forgotten


async def test_digest_push_to_a_receiver_without_a_usable_challenge() -> None:
    async def basic_only(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="x"'})

    async def sha512_only(_request: web.Request) -> web.StreamResponse:
        challenge = 'Digest realm="x", nonce="n", qop="auth", algorithm=SHA-512-256'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async def malformed(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Digest realm="x'})

    for handler, error_class, words in (
        (basic_only, "auth", "basic"),
        (sha512_only, "auth", "digest"),
        (malformed, "protocol", "malformed"),
    ):
        async with serve(handler) as server, push_session() as s:
            result = await _digest(s, server)
        assert (result.http_status, result.error_class) == (401, error_class)
        assert result.error_message is not None
        assert words in result.error_message
        assert len(server.requests) == 1


# --- OAUTH2 ------------------------------------------------------------------------------


async def _oauth(s: ClientSession, server: LocalServer, **options: Any) -> SendResult:
    return await push(
        s,
        server.url("/push"),
        method=OAUTH2,
        principal=CLIENT_ID,
        credentials=SPECIAL_SECRET,
        token_url=server.url("/token"),
        **options,
    )


@pytest.mark.parametrize("style", list(ClientAuthStyle))
async def test_client_authentication_styles_are_verified_by_the_token_endpoint(
    style: ClientAuthStyle,
) -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, style=style.value)
    async with serve(verifier) as server, push_session() as s:
        result = await _oauth(s, server, client_auth=style)
    assert (result.http_status, result.error_class) == (200, None)
    assert result.auth_steps == ("oauth2 token fetched",)
    assert verifier.token_requests == 1
    assert verifier.auth_failures == []
    token_request = server.requests[0]
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert DELIVERY_ID_HEADER not in token_request.headers
    assert server.requests[1].headers["Authorization"] == f"Bearer {verifier.issued[0]}"


async def test_wrong_client_auth_style_is_an_auth_failure() -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, style="client_secret_post")
    async with serve(verifier) as server, push_session() as s:
        result = await _oauth(s, server)
    assert (result.http_status, result.error_class) == (None, "auth")
    assert result.error_message is not None
    assert "invalid_client" in result.error_message
    assert SPECIAL_SECRET not in result.error_message
    assert server.paths() == ["/token"]


async def test_token_is_cached_across_pushes() -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET)
    cache = TokenCache()
    async with serve(verifier) as server, push_session() as s:
        results = [await _oauth(s, server, token_cache=cache) for _ in range(10)]
    assert [r.http_status for r in results] == [200] * 10
    assert verifier.token_requests == 1
    assert results[0].auth_steps == ("oauth2 token fetched",)
    assert {r.auth_steps for r in results[1:]} == {("oauth2 token cached",)}


async def test_concurrent_pushes_with_an_empty_cache_make_one_token_request() -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, token_delay=0.1)
    cache = TokenCache()
    async with serve(verifier) as server, push_session(limit_per_host=60) as s:
        results = await asyncio.gather(
            *(_oauth(s, server, token_cache=cache, delivery_id=f"d{i}") for i in range(50))
        )
    assert [r.http_status for r in results] == [200] * 50
    assert verifier.token_requests == 1
    steps = sorted(r.auth_steps for r in results)
    assert steps.count(("oauth2 token fetched",)) == 1
    assert steps.count(("oauth2 token cached",)) == 49


async def test_401_from_the_push_url_triggers_one_refetch() -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, reject_tokens=frozenset({1}))
    cache = TokenCache()
    async with serve(verifier) as server, push_session() as s:
        result = await _oauth(s, server, token_cache=cache)
        later = await _oauth(s, server, token_cache=cache)
    assert (result.http_status, result.error_class) == (200, None)
    assert result.auth_steps == ("oauth2 token fetched", "oauth2 refetch after 401")
    assert later.auth_steps == ("oauth2 token cached",)
    assert verifier.token_requests == 2
    assert server.paths() == ["/token", "/push", "/token", "/push", "/push"]
    push_ids = {r.headers[DELIVERY_ID_HEADER] for r in server.requests if r.path == "/push"}
    assert push_ids == {"delivery-1"}


async def test_push_url_refusing_every_token_is_an_auth_failure_without_a_loop() -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, reject_tokens=frozenset(range(1, 10)))
    async with serve(verifier) as server, push_session() as s:
        result = await _oauth(s, server)
    assert (result.http_status, result.error_class) == (401, "auth")
    assert server.paths() == ["/token", "/push", "/token", "/push"]


@pytest.mark.parametrize(
    ("status", "body", "error_class", "words"),
    [
        (503, b"", "token_endpoint", "HTTP 503"),
        (404, b"", "token_endpoint", "HTTP 404"),
        (302, b"", "token_endpoint", "HTTP 302"),
        (401, b'{"error": "invalid_client"}', "auth", "invalid_client"),
        (400, b'{"error": "invalid_grant", "error_description": "nope"}', "auth", "nope"),
        (400, b'{"error": "unauthorized_client"}', "auth", "unauthorized_client"),
        (400, b'{"error": "invalid_request"}', "token_endpoint", "HTTP 400"),
        (200, b"<html>not json</html>", "token_endpoint", "JSON"),
        (200, b'{"token_type": "Bearer"}', "token_endpoint", "access_token"),
        (200, b'{"access_token": "a b"}', "token_endpoint", "access_token"),
        (200, b'{"access_token": "t", "expires_in": "soon"}', "token_endpoint", "expires_in"),
        (200, b'{"access_token": "t", "token_type": "mac"}', "auth", "Bearer"),
        (200, b'{"access_token": "' + b"x" * 70000 + b'"}', "token_endpoint", "bytes"),
    ],
)
async def test_token_endpoint_failures_are_classified(
    status: int, body: bytes, error_class: str, words: str
) -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, token_status=status, token_body=body)
    async with serve(verifier) as server, push_session() as s:
        result = await _oauth(s, server)
    assert (result.http_status, result.error_class) == (None, error_class)
    assert result.error_message is not None
    assert words in result.error_message
    assert server.paths() == ["/token"]  # the push URL is never tried without a token


async def test_hanging_token_endpoint_ends_within_the_deadline() -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, token_delay=5)
    async with serve(verifier) as server, push_session() as s:
        result = await _oauth(s, server, timeouts=Timeouts(connect=0.5, read=2.0, total=0.5))
    assert result.error_class == "token_endpoint"
    assert result.duration_ms < 1500
    assert server.paths() == ["/token"]


async def test_unreachable_token_endpoint_is_transient() -> None:
    async with serve(OAuthServer("a", "b")) as server:
        dead_url = server.url("/token")
    async with push_session() as s:
        result = await push(
            s,
            "http://127.0.0.1:9/push",
            method=OAUTH2,
            principal="a",
            credentials="b",
            token_url=dead_url,
        )
    assert result.error_class == "token_endpoint"


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(
    ("expires_in", "still_cached", "expired"),
    [
        (120, timedelta(seconds=59), timedelta(seconds=61)),  # expires_in minus 60 s margin
        ("120", timedelta(seconds=59), timedelta(seconds=61)),  # numeric strings accepted
        (None, timedelta(minutes=58), timedelta(minutes=60)),  # absent: one hour
        (30, timedelta(seconds=14), timedelta(seconds=16)),  # short-lived: half its life
    ],
)
async def test_token_expiry(
    expires_in: object, still_cached: timedelta, expired: timedelta
) -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, expires_in=expires_in)
    clock = _Clock()
    cache = TokenCache(clock=clock)
    start = clock.now
    async with serve(verifier) as server, push_session() as s:
        steps = []
        for offset in (timedelta(0), still_cached, expired):
            clock.now = start + offset
            result = await _oauth(s, server, token_cache=cache)
            assert result.http_status == 200
            steps.append(result.auth_steps)
    assert steps == [
        ("oauth2 token fetched",),
        ("oauth2 token cached",),
        ("oauth2 token fetched",),
    ]
    assert verifier.token_requests == 2


class _DictTokenStore:
    def __init__(self, *, broken: bool = False) -> None:
        self.tokens: dict[str, tuple[Secret, datetime]] = {}
        self.broken = broken

    async def get_token(self, cache_key: str, *, now: datetime) -> Secret | None:
        if self.broken:
            raise StorageError("database is locked")
        entry = self.tokens.get(cache_key)
        return entry[0] if entry is not None and entry[1] > now else None

    async def put_token(self, cache_key: str, token: Secret, *, expires_at: datetime) -> None:
        if self.broken:
            raise StorageError("database is locked")
        self.tokens[cache_key] = (token, expires_at)


async def test_persistent_store_shares_tokens_between_caches() -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, expires_in=600)
    store = _DictTokenStore()
    hash_key = b"k" * 32
    async with serve(verifier) as server, push_session() as s:
        for _worker in range(3):
            cache = TokenCache(store, secret_hash_key=hash_key)
            result = await _oauth(s, server, token_cache=cache)
            assert result.http_status == 200
    assert verifier.token_requests == 1
    ((key, (token, expires_at)),) = store.tokens.items()
    assert key == cache.cache_key(
        token_url=server.url("/token"),
        client_id=CLIENT_ID,
        client_secret=Secret(SPECIAL_SECRET),
        account=None,
    )
    assert SPECIAL_SECRET not in key
    assert token == Secret(verifier.issued[0])
    assert expires_at > datetime.now(UTC) + timedelta(seconds=500)


async def test_broken_store_falls_back_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET)
    cache = TokenCache(_DictTokenStore(broken=True))
    async with serve(verifier) as server, push_session() as s:
        for _ in range(2):
            result = await _oauth(s, server, token_cache=cache)
            assert result.http_status == 200
    assert verifier.token_requests == 1
    assert "token store" in caplog.text
    assert json.dumps(verifier.issued[0]).strip('"') not in caplog.text


async def test_concurrent_pushes_share_one_token_endpoint_failure() -> None:
    verifier = OAuthServer(CLIENT_ID, SPECIAL_SECRET, token_status=503, token_delay=0.1)
    cache = TokenCache()
    async with serve(verifier) as server, push_session() as s:
        results = await asyncio.gather(*(_oauth(s, server, token_cache=cache) for _ in range(20)))
        assert {r.error_class for r in results} == {"token_endpoint"}
        assert verifier.token_requests == 1
        verifier.token_status = 200
        recovered = await _oauth(s, server, token_cache=cache)  # the failure is not cached
    assert recovered.http_status == 200
    assert verifier.token_requests == 2


async def test_token_cache_is_bounded() -> None:
    fetches: list[str] = []

    def fetcher(name: str) -> Callable[[], Awaitable[IssuedToken]]:
        async def fetch() -> IssuedToken:
            fetches.append(name)
            return IssuedToken(Secret(f"token-{name}"), 3600)

        return fetch

    cache = TokenCache(max_entries=2)
    for name in ("a", "b", "c", "a"):
        token, fetched = await cache.obtain(name, fetcher(name))
        assert token == Secret(f"token-{name}")
        assert fetched
    assert cache.size == 2
    assert fetches == ["a", "b", "c", "a"]  # "a" was evicted by "c", so fetched again
    assert await cache.obtain("a", fetcher("a")) == (Secret("token-a"), False)


def test_digest_nonce_cache_is_bounded() -> None:
    nonces = DigestNonceCache(max_entries=2)
    for origin in ("http://a", "http://b", "http://c"):
        assert nonces.adopt(origin, "u", DigestChallenge(realm="r", nonce=origin)) == 1
    assert nonces.size == 2
    assert nonces.next_use("http://a", "u") is None
    reused = nonces.next_use("http://c", "u")
    assert reused is not None
    assert (reused[0].nonce, reused[1]) == ("http://c", 2)
    assert nonces.next_use("http://c", "someone else") is None


@pytest.mark.parametrize("token_url", ["ftp://127.0.0.1/token", "http://id:secret@127.0.0.1/t"])
async def test_unusable_token_url_is_an_invalid_url(token_url: str) -> None:
    async with serve(OAuthServer(CLIENT_ID, SPECIAL_SECRET)) as server, push_session() as s:
        result = await push(
            s,
            server.url("/push"),
            method=OAUTH2,
            principal="id",
            credentials="secret",
            token_url=token_url,
        )
    assert result.error_class == "invalid_url"
    assert result.error_message is not None
    assert "OAuth2 token URL" in result.error_message
    assert "secret" not in result.error_message
    assert server.requests == []
