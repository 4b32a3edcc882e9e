"""Server-side digest: the pure math (faxpush.core.digest_server, digest_math) and the
DigestVerifier.

The RFC 7616 §3.9.1 example is checked through the whole verifier (with a nonce source that
knows the RFC's nonce), not only through the hash functions.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faxpush.core.digest import (
    DigestChallenge,
    choose_challenge,
    format_authorization,
    parse_auth_header,
)
from faxpush.core.digest_math import response_from_ha1, user_ha1
from faxpush.core.digest_server import NONCE_LENGTH, issue_nonce, open_nonce, parse_nc
from faxpush.core.errors import InputError
from faxpush.core.models import AuthMethod
from faxpush.receiver.errors import AuthenticationRequiredError
from faxpush.receiver.verify import AuthRequest, DigestUser, DigestVerifier, NonceCounter

RFC = {
    "username": "Mufasa",
    "password": "Circle of Life",
    "realm": "http-auth@example.org",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    "uri": "/dir/index.html",
}
RFC_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}
KEY = b"k" * 32


class FixedNonces:
    """Knows one nonce (the RFC's), issued at ``issued_ms``."""

    def __init__(self, nonce: str, issued_ms: int = 0) -> None:
        self.nonce = nonce
        self.issued_ms = issued_ms

    def issue(self, now_ms: int) -> str:
        return self.nonce

    def issued_at(self, nonce: str) -> int | None:
        return self.issued_ms if nonce == self.nonce else None


def rfc_header(algorithm: str, *, nc: str = "00000001", response: str | None = None) -> str:
    return (
        f'Digest username="{RFC["username"]}", realm="{RFC["realm"]}", uri="{RFC["uri"]}", '
        f'algorithm={algorithm}, nonce="{RFC["nonce"]}", nc={nc}, cnonce="{RFC["cnonce"]}", '
        f'qop=auth, response="{response or RFC_RESPONSES[algorithm]}", '
        f'opaque="{RFC["opaque"]}"'
    )


def rfc_verifier(algorithms: tuple[str, ...] = ("SHA-256", "MD5")) -> DigestVerifier:
    user = DigestUser.from_password(
        RFC["username"], RFC["password"], realm=RFC["realm"], algorithms=algorithms
    )
    return DigestVerifier(
        [user],
        realm=RFC["realm"],
        algorithms=algorithms,
        nonces=FixedNonces(RFC["nonce"]),
        clock=lambda: 1.0,
    )


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_vectors_from_ha1(algorithm: str) -> None:
    ha1 = user_ha1(
        algorithm, username=RFC["username"], realm=RFC["realm"], password=RFC["password"]
    )
    response = response_from_ha1(
        algorithm=algorithm,
        ha1=ha1,
        method="GET",
        uri=RFC["uri"],
        nonce=RFC["nonce"],
        nc="00000001",
        cnonce=RFC["cnonce"],
    )
    assert response == RFC_RESPONSES[algorithm]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_rfc7616_vectors_accepted_by_the_verifier(algorithm: str) -> None:
    verifier = rfc_verifier()
    request = AuthRequest("GET", RFC["uri"], (rfc_header(algorithm),))
    result = await verifier.verify(request)
    assert result.method is AuthMethod.HTTP_DIGEST
    assert result.principal == "Mufasa"


async def test_rfc_vector_replayed_is_refused_with_stale() -> None:
    verifier = rfc_verifier()
    request = AuthRequest("GET", RFC["uri"], (rfc_header("SHA-256"),))
    await verifier.verify(request)
    with pytest.raises(AuthenticationRequiredError) as refused:
        await verifier.verify(request)
    assert refused.value.reason == "nonce count replayed or not increasing"
    assert all("stale=true" in v for _, v in refused.value.headers)


async def test_lower_nonce_count_is_refused_and_higher_accepted() -> None:
    verifier = rfc_verifier(algorithms=("MD5",))
    ha1 = user_ha1("MD5", username=RFC["username"], realm=RFC["realm"], password=RFC["password"])

    def header(nc: str) -> str:
        response = response_from_ha1(
            algorithm="MD5",
            ha1=ha1,
            method="POST",
            uri=RFC["uri"],
            nonce=RFC["nonce"],
            nc=nc,
            cnonce=RFC["cnonce"],
        )
        return rfc_header("MD5", nc=nc, response=response)

    await verifier.verify(AuthRequest("POST", RFC["uri"], (header("00000005"),)))
    with pytest.raises(AuthenticationRequiredError):
        await verifier.verify(AuthRequest("POST", RFC["uri"], (header("00000003"),)))
    await verifier.verify(AuthRequest("POST", RFC["uri"], (header("00000006"),)))


async def test_algorithm_not_offered_is_refused() -> None:
    verifier = rfc_verifier(algorithms=("SHA-256",))
    with pytest.raises(AuthenticationRequiredError) as refused:
        await verifier.verify(AuthRequest("GET", RFC["uri"], (rfc_header("MD5"),)))
    assert refused.value.reason == "algorithm not offered"


async def test_uri_must_be_the_request_target() -> None:
    verifier = rfc_verifier()
    with pytest.raises(AuthenticationRequiredError) as refused:
        await verifier.verify(AuthRequest("GET", "/dir/other.html", (rfc_header("MD5"),)))
    assert refused.value.reason == "uri is not the request target"


async def test_unknown_user_and_wrong_password_get_the_same_answer() -> None:
    verifier = rfc_verifier()
    wrong_password = rfc_header("MD5", response="0" * 32)
    unknown_user = rfc_header("MD5").replace('username="Mufasa"', 'username="Simba"')
    answers = []
    for header in (wrong_password, unknown_user):
        with pytest.raises(AuthenticationRequiredError) as refused:
            await verifier.verify(AuthRequest("GET", RFC["uri"], (header,)))
        answers.append((refused.value.status, str(refused.value), refused.value.reason))
    assert answers[0] == answers[1] == (401, "authentication required", "credentials rejected")


@pytest.mark.parametrize(
    "header",
    [
        "Digest",
        'Digest username="a"',
        'Digest username="a", realm="r", nonce="n", uri="/", response="x", qop=auth',
        "Digest ===",
        'Digest username="unterminated',
        "Basic Zm9vOmJhcg==",
        "Bearer abc",
        "",
        "Digest " + "a=b, " * 3000,
    ],
)
async def test_malformed_headers_are_401_not_exceptions(header: str) -> None:
    verifier = rfc_verifier()
    with pytest.raises(AuthenticationRequiredError) as refused:
        await verifier.verify(AuthRequest("GET", RFC["uri"], (header,)))
    assert refused.value.status == 401


async def test_two_authorization_headers_are_refused() -> None:
    verifier = rfc_verifier()
    header = rfc_header("MD5")
    with pytest.raises(AuthenticationRequiredError):
        await verifier.verify(AuthRequest("GET", RFC["uri"], (header, header)))


async def test_challenges_offer_sha256_then_md5_with_one_nonce() -> None:
    verifier = DigestVerifier([DigestUser.from_password("u", "p")])
    values = verifier.challenges()
    parsed = parse_auth_header(values)
    assert [c.params["algorithm"] for c in parsed] == ["SHA-256", "MD5"]
    assert {c.params["nonce"] for c in parsed} == {parsed[0].params["nonce"]}
    assert all(c.params["qop"] == "auth" for c in parsed)
    chosen = choose_challenge(parsed)
    assert chosen is not None
    assert chosen.algorithm == "SHA-256"


async def test_expired_nonce_answers_stale_only_to_a_correct_response() -> None:
    now = [1000.0]
    user = DigestUser.from_password("alice", "s3cret")
    verifier = DigestVerifier([user], clock=lambda: now[0])
    nonce = parse_auth_header(verifier.challenges())[0].params["nonce"]
    challenge = DigestChallenge(realm="faxpush", nonce=nonce, algorithm="SHA-256")

    def header(password: str, nc: int) -> str:
        return format_authorization(
            challenge,
            username="alice",
            password=password,
            method="POST",
            uri="/p",
            nc=nc,
            cnonce="c",
        )

    await verifier.verify(AuthRequest("POST", "/p", (header("s3cret", 1),)))
    now[0] += 301  # past the 5-minute lifetime
    with pytest.raises(AuthenticationRequiredError) as stale:
        await verifier.verify(AuthRequest("POST", "/p", (header("s3cret", 2),)))
    assert stale.value.reason == "nonce expired"
    assert all("stale=true" in value for _, value in stale.value.headers)
    with pytest.raises(AuthenticationRequiredError) as wrong:
        await verifier.verify(AuthRequest("POST", "/p", (header("wrong", 3),)))
    assert wrong.value.reason == "credentials rejected"
    assert not any("stale" in value for _, value in wrong.value.headers)


async def test_nonce_signed_for_another_realm_or_key_is_unknown() -> None:
    user = DigestUser.from_password("alice", "s3cret", realm="other")
    verifier = DigestVerifier([user], realm="other")
    foreign = issue_nonce(b"x" * 32, realm="other", issued_at_ms=0, salt=b"s" * 12)
    challenge = DigestChallenge(realm="other", nonce=foreign, algorithm="SHA-256")
    header = format_authorization(
        challenge, username="alice", password="s3cret", method="POST", uri="/", nc=1, cnonce="c"
    )
    with pytest.raises(AuthenticationRequiredError) as refused:
        await verifier.verify(AuthRequest("POST", "/", (header,)))
    assert refused.value.reason == "unknown nonce"


def test_nonce_roundtrip_and_tampering() -> None:
    nonce = issue_nonce(KEY, realm="r", issued_at_ms=1_234_567, salt=b"\x01" * 12)
    assert len(nonce) == NONCE_LENGTH
    assert open_nonce(KEY, nonce, realm="r") == 1_234_567
    assert open_nonce(KEY, nonce, realm="other") is None
    assert open_nonce(b"z" * 32, nonce, realm="r") is None
    flipped = ("B" if nonce[3] == "A" else "A").join((nonce[:3], nonce[4:]))
    assert open_nonce(KEY, flipped, realm="r") is None
    for junk in ("", "x" * NONCE_LENGTH, "é" * NONCE_LENGTH, nonce[:-1]):
        assert open_nonce(KEY, junk, realm="r") is None
    with pytest.raises(InputError):
        issue_nonce(KEY, realm="r", issued_at_ms=0, salt=b"short")


@given(st.integers(min_value=0, max_value=2**63 - 1), st.binary(min_size=12, max_size=12))
def test_nonces_open_to_their_issue_time(issued: int, salt: bytes) -> None:
    nonce = issue_nonce(KEY, realm="faxpush", issued_at_ms=issued, salt=salt)
    assert open_nonce(KEY, nonce, realm="faxpush") == issued
    assert '"' not in nonce
    assert "," not in nonce


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00000001", 1),
        ("0000000a", 10),
        ("FFFFFFFF", 2**32 - 1),
        ("00000000", None),
        ("1", None),
        ("0000000g", None),
        (None, None),
        ("+0000001", None),
        (" 0000001", None),
    ],
)
def test_parse_nc(value: str | None, expected: int | None) -> None:
    assert parse_nc(value) == expected


def test_session_variant_mixes_nonce_and_cnonce() -> None:
    ha1 = user_ha1("MD5", username="u", realm="r", password="p")
    expected_ha1 = hashlib.md5(f"{ha1}:n:c".encode(), usedforsecurity=False).hexdigest()
    ha2 = hashlib.md5(b"POST:/", usedforsecurity=False).hexdigest()
    expected = hashlib.md5(
        f"{expected_ha1}:n:00000001:c:auth:{ha2}".encode(), usedforsecurity=False
    ).hexdigest()
    got = response_from_ha1(
        algorithm="MD5-sess", ha1=ha1, method="POST", uri="/", nonce="n", nc="00000001", cnonce="c"
    )
    assert got == expected
    with pytest.raises(InputError):
        response_from_ha1(
            algorithm="sha-1", ha1=ha1, method="GET", uri="/", nonce="n", nc="00000001", cnonce="c"
        )


def test_users_keep_only_ha1() -> None:
    user = DigestUser.from_password("alice", "s3cret-password")
    assert "s3cret-password" not in repr(user)
    assert set(user.ha1) == {"SHA-256", "MD5"}
    assert user.ha1["MD5"] == hashlib.md5(b"alice:faxpush:s3cret-password").hexdigest()


def test_counter_eviction_makes_old_nonces_stale() -> None:
    counter = NonceCounter(max_entries=2)
    assert counter.advance("a", 1, 1)
    assert counter.advance("b", 2, 1)
    assert counter.advance("c", 3, 1)  # evicts "a"
    assert counter.forgotten(1)
    assert not counter.forgotten(2)
    counter.expire(3)
    assert len(counter) == 1
