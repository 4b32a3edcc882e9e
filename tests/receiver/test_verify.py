"""Basic and Bearer verification (JWT by JWKS, opaque tokens by introspection)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from faxpush.core.errors import ConfigurationError
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.receiver.app import Receive, Scope, Send
from faxpush.receiver.errors import AuthenticationRequiredError, VerifierUnavailableError
from faxpush.receiver.issuer import DevIssuer
from faxpush.receiver.verify import (
    AuthRequest,
    BasicVerifier,
    BearerVerifier,
    DigestUser,
    DigestVerifier,
    IntrospectionValidator,
    JwtValidator,
    NoAuthVerifier,
    RemoteJwks,
    StaticJwks,
    Verifier,
)
from faxpush.receiver.verify.basic import REMEMBERED_HEADERS
from tests.receiver.serving import serving


def basic_request(user: str, password: str) -> AuthRequest:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return AuthRequest("POST", "/", (f"Basic {token}",))


async def test_basic_accepts_the_right_password() -> None:
    verifier = BasicVerifier({"alice": Secret("s3cret"), "bob": "pässwörd:with:colons"})
    assert (await verifier.verify(basic_request("alice", "s3cret"))).principal == "alice"
    result = await verifier.verify(basic_request("bob", "pässwörd:with:colons"))
    assert result.describe() == "HTTP_BASIC as bob"


async def test_basic_same_answer_for_unknown_user_and_wrong_password() -> None:
    verifier = BasicVerifier({"alice": "s3cret"})
    answers = []
    for request in (basic_request("alice", "wrong"), basic_request("mallory", "s3cret")):
        with pytest.raises(AuthenticationRequiredError) as refused:
            await verifier.verify(request)
        answers.append((refused.value.status, refused.value.headers, refused.value.reason))
    assert answers[0] == answers[1]
    assert answers[0][1] == (("WWW-Authenticate", 'Basic realm="faxpush", charset="UTF-8"'),)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic",
        "Basic !!!",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Bearer x",
        "Basic " + "A" * 5000,
        "basic\tabc",
        "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
    ],
)
async def test_basic_malformed_is_401(header: str) -> None:
    with pytest.raises(AuthenticationRequiredError):
        await BasicVerifier({"alice": "s3cret"}).verify(AuthRequest("POST", "/", (header,)))


async def test_basic_secret_not_in_repr() -> None:
    verifier = BasicVerifier({"alice": "top-secret-value"})
    assert "top-secret-value" not in repr(vars(verifier))


async def test_basic_remembers_accepted_headers_only() -> None:
    verifier = BasicVerifier({"alice": "s3cret", "bob": "hunter2"})
    good = basic_request("alice", "s3cret")
    for _ in range(3):  # the second and third are answered from memory
        assert (await verifier.verify(good)).principal == "alice"
    assert (await verifier.verify(basic_request("bob", "hunter2"))).principal == "bob"
    for wrong in (basic_request("alice", "s3cret "), basic_request("alice", "S3cret")):
        with pytest.raises(AuthenticationRequiredError):
            await verifier.verify(wrong)
    with pytest.raises(AuthenticationRequiredError):  # two headers: refused before memory
        await verifier.verify(AuthRequest("POST", "/", (*good.authorization, "Basic x")))
    # Neither the password nor the header itself is kept.
    shown = repr(vars(verifier))
    assert "s3cret" not in shown
    assert good.authorization[0].split()[1] not in shown


async def test_basic_memory_is_bounded() -> None:
    users = {f"user{i}": f"password{i}" for i in range(200)}
    verifier = BasicVerifier(users)
    for user, password in users.items():
        assert (await verifier.verify(basic_request(user, password))).principal == user
    assert len(verifier._accepted) == REMEMBERED_HEADERS
    # A forgotten header is checked in full again, and accepted.
    assert (await verifier.verify(basic_request("user0", "password0"))).principal == "user0"


async def test_none_accepts_everything() -> None:
    result = await NoAuthVerifier().verify(AuthRequest("POST", "/"))
    assert result.method is AuthMethod.NONE
    assert result.describe() == "NONE"


# --- JWT ---------------------------------------------------------------------------------

ISSUER = "http://127.0.0.1:1/oauth2"


def bearer(token: str) -> AuthRequest:
    return AuthRequest("POST", "/", (f"Bearer {token}",))


def jwt_verifier(issuer: DevIssuer, leeway: float = 30.0) -> BearerVerifier:
    validator = JwtValidator(
        issuer.key_source(),
        issuer=issuer.issuer,
        audience=issuer.audience,
        algorithms=["ES256"],
        leeway=leeway,
    )
    return BearerVerifier(validator)


async def test_jwt_from_the_issuer_is_accepted() -> None:
    issuer = DevIssuer({"client-1": "s"}, issuer=ISSUER)
    result = await jwt_verifier(issuer).verify(bearer(issuer.issue("client-1")))
    assert result.describe() == "OAUTH2 as client-1"


async def refused(verifier: BearerVerifier, request: AuthRequest) -> AuthenticationRequiredError:
    with pytest.raises(AuthenticationRequiredError) as caught:
        await verifier.verify(request)
    return caught.value


async def test_jwt_failures_answer_invalid_token() -> None:
    issuer = DevIssuer({"c": "s"}, issuer=ISSUER)
    verifier = jwt_verifier(issuer, leeway=0)
    key = issuer._key
    now = int(time.time())
    base = {"iss": ISSUER, "aud": issuer.audience, "exp": now + 60, "sub": "c"}
    cases = {
        "expired": {**base, "exp": now - 5},
        "wrong issuer": {**base, "iss": "http://elsewhere"},
        "wrong audience": {**base, "aud": "someone-else"},
        "no expiry": {k: v for k, v in base.items() if k != "exp"},
    }
    for name, claims in cases.items():
        token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": issuer.key_id})
        problem = await refused(verifier, bearer(token))
        assert problem.headers == (
            ("WWW-Authenticate", 'Bearer realm="faxpush", error="invalid_token"'),
        ), name
    other_key = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(base, other_key, algorithm="ES256", headers={"kid": issuer.key_id})
    assert "invalid token" in (await refused(verifier, bearer(forged))).reason
    unsigned = jwt.encode(base, "", algorithm="none")
    assert "not allowed" in (await refused(verifier, bearer(unsigned))).reason
    hmac_token = jwt.encode(base, "secret" * 6, algorithm="HS256")
    assert "not allowed" in (await refused(verifier, bearer(hmac_token))).reason
    unknown_kid = jwt.encode(base, key, algorithm="ES256", headers={"kid": "nope"})
    assert "unknown key" in (await refused(verifier, bearer(unknown_kid))).reason
    for garbage in ("not-a-jwt", "a.b.c", "é", "x" * 9000):
        await refused(verifier, AuthRequest("POST", "/", (f"Bearer {garbage}",)))


async def test_no_token_gets_the_bare_challenge() -> None:
    issuer = DevIssuer({"c": "s"}, issuer=ISSUER)
    problem = await refused(jwt_verifier(issuer), AuthRequest("POST", "/"))
    assert problem.headers == (("WWW-Authenticate", 'Bearer realm="faxpush"'),)


def test_symmetric_or_no_algorithms_are_refused_in_configuration() -> None:
    keys = StaticJwks(DevIssuer({}, issuer=ISSUER).jwks())
    for algorithms in (["HS256"], ["none"], []):
        with pytest.raises(ConfigurationError):
            JwtValidator(keys, issuer="i", audience="a", algorithms=algorithms)
    with pytest.raises(ConfigurationError):
        StaticJwks({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})


async def test_remote_jwks_is_fetched_cached_and_refetched_for_a_new_key() -> None:
    issuer = DevIssuer({"c": "s"}, issuer=ISSUER)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    rsa_jwk.update(kid="rsa-2", use="sig", alg="RS256")
    documents = [issuer.jwks()]

    async def jwks_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = json.dumps(documents[-1]).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    with serving(jwks_app) as server:
        source = RemoteJwks(server.url("/jwks.json"), min_refresh=0)
        validator = JwtValidator(
            source, issuer=ISSUER, audience=issuer.audience, algorithms=["ES256", "RS256"]
        )
        verifier = BearerVerifier(validator)
        try:
            for _ in range(3):
                await verifier.verify(bearer(issuer.issue("c")))
            assert source.fetches == 1
            documents.append({"keys": [*issuer.jwks()["keys"], rsa_jwk]})
            claims = {
                "iss": ISSUER,
                "aud": issuer.audience,
                "exp": int(time.time()) + 60,
                "client_id": "rotated",
            }
            token = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa-2"})
            assert (await verifier.verify(bearer(token))).principal == "rotated"
            assert source.fetches == 2
        finally:
            await verifier.aclose()


async def test_unreachable_jwks_is_503_not_401() -> None:
    with serving(NoContent()) as server:
        url = server.url("/jwks.json")
    # The server is gone: nothing listens on that port any more.
    validator = JwtValidator(RemoteJwks(url, timeout=1), issuer=ISSUER, audience="a")
    verifier = BearerVerifier(validator)
    token = DevIssuer({"c": "s"}, issuer=ISSUER).issue("c")
    try:
        with pytest.raises(VerifierUnavailableError) as unavailable:
            await verifier.verify(bearer(token))
        assert unavailable.value.status == 503
    finally:
        await verifier.aclose()


class NoContent:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})


# --- introspection -----------------------------------------------------------------------


async def test_introspection_accepts_active_tokens_and_caches() -> None:
    issuer = DevIssuer({"receiver": "rs", "client-1": "cs"}, issuer=ISSUER, opaque=True)
    with serving(issuer) as server:
        validator = IntrospectionValidator(
            server.url("/oauth2/introspect"),
            client_id="receiver",
            client_secret=Secret("rs"),
            issuer=ISSUER,
            audience=issuer.audience,
        )
        verifier = BearerVerifier(validator)
        try:
            token = issuer.issue("client-1")
            for _ in range(3):
                result = await verifier.verify(bearer(token))
                assert result.principal == "client-1"
            assert validator.requests == 1
            for _ in range(2):
                await refused(verifier, bearer("made-up-token"))
            assert validator.requests == 2  # the negative answer is cached too
        finally:
            await verifier.aclose()


async def test_introspection_with_wrong_receiver_credentials_is_503() -> None:
    issuer = DevIssuer({"receiver": "rs"}, issuer=ISSUER, opaque=True)
    with serving(issuer) as server:
        validator = IntrospectionValidator(
            server.url("/oauth2/introspect"), client_id="receiver", client_secret=Secret("bad")
        )
        try:
            with pytest.raises(VerifierUnavailableError):
                await BearerVerifier(validator).verify(bearer("t"))
        finally:
            await validator.aclose()


async def test_introspection_expired_and_wrong_audience() -> None:
    now = [1000.0]
    issuer = DevIssuer(
        {"r": "s", "c": "s"}, issuer=ISSUER, opaque=True, token_lifetime=10, clock=lambda: now[0]
    )
    with serving(issuer) as server:
        validator = IntrospectionValidator(
            server.url("/oauth2/introspect"),
            client_id="r",
            client_secret=Secret("s"),
            audience="another-audience",
            clock=lambda: now[0],
        )
        try:
            token = issuer.issue("c")
            with pytest.raises(Exception, match="wrong audience"):
                await validator.validate(token)
            right = IntrospectionValidator(
                server.url("/oauth2/introspect"),
                client_id="r",
                client_secret=Secret("s"),
                clock=lambda: now[0],
            )
            assert await right.validate(token) == "c"
            now[0] += 11
            right._cache.clear()
            with pytest.raises(Exception, match="not active"):
                await right.validate(token)
            await right.aclose()
        finally:
            await validator.aclose()


async def test_refusal_reasons_never_echo_what_was_sent() -> None:
    secret = "hunter2-very-secret"
    verifiers: list[Verifier] = [
        BasicVerifier({"alice": "s3cret"}),
        DigestVerifier([DigestUser.from_password("alice", "s3cret")]),
        jwt_verifier(DevIssuer({"c": "s"}, issuer=ISSUER)),
    ]
    for verifier in verifiers:
        for header in (
            secret,
            f"Basic {secret}",
            f"Digest {secret}",
            f"Bearer {secret}",
            "Basic " + base64.b64encode(f"alice:{secret}".encode()).decode(),
        ):
            with pytest.raises(AuthenticationRequiredError) as refused:
                await verifier.verify(AuthRequest("POST", "/", (header,)))
            shown = f"{refused.value} {refused.value.reason} {refused.value.headers}"
            assert secret not in shown
