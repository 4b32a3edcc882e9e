"""RFC 7616 computations (faxpush.core.digest_math) and RFC 7235 header parsing
(faxpush.core.digest)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faxpush.core.digest import (
    AuthChallenge,
    DigestChallenge,
    MalformedAuthHeaderError,
    choose_challenge,
    format_authorization,
    format_challenge,
    format_nc,
    parse_auth_header,
    parse_authorization,
    quote_string,
    usable_challenge,
)
from faxpush.core.digest_math import canonical_algorithm, compute_ha1, compute_response
from faxpush.core.errors import InputError

# RFC 7616 §3.9.1
RFC = {
    "username": "Mufasa",
    "password": "Circle of Life",
    "realm": "http-auth@example.org",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "nc": "00000001",
    "uri": "/dir/index.html",
    "method": "GET",
}
RFC_MD5 = "8ca523f5e9506fed4657c9700eebdbec"
RFC_SHA256 = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


@pytest.mark.parametrize(("algorithm", "expected"), [("MD5", RFC_MD5), ("SHA-256", RFC_SHA256)])
def test_rfc7616_example_vectors(algorithm: str, expected: str) -> None:
    assert compute_response(algorithm=algorithm, **RFC) == expected


@pytest.mark.parametrize(("algorithm", "expected"), [("MD5", RFC_MD5), ("SHA-256", RFC_SHA256)])
def test_formatted_header_carries_the_rfc_response(algorithm: str, expected: str) -> None:
    challenge = DigestChallenge(
        realm=RFC["realm"], nonce=RFC["nonce"], algorithm=algorithm, opaque="FQhe/qaU925k"
    )
    header = format_authorization(
        challenge,
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        nc=1,
        cnonce=RFC["cnonce"],
    )
    parsed = parse_authorization(header)
    assert parsed.response == expected
    assert (parsed.username, parsed.realm, parsed.uri) == ("Mufasa", RFC["realm"], RFC["uri"])
    assert (parsed.nc, parsed.qop, parsed.algorithm) == ("00000001", "auth", algorithm)
    assert (parsed.cnonce, parsed.opaque) == (RFC["cnonce"], "FQhe/qaU925k")


@pytest.mark.parametrize(
    ("algorithm", "hash_name"), [("MD5-sess", "md5"), ("SHA-256-sess", "sha256")]
)
def test_session_variants_mix_nonce_and_cnonce_into_ha1(algorithm: str, hash_name: str) -> None:
    def h(text: str) -> str:
        return hashlib.new(hash_name, text.encode()).hexdigest()

    inner = h("Mufasa:http-auth@example.org:Circle of Life")
    expected_ha1 = h(f"{inner}:{RFC['nonce']}:{RFC['cnonce']}")
    ha1 = compute_ha1(
        algorithm,
        username="Mufasa",
        realm=RFC["realm"],
        password="Circle of Life",
        nonce=RFC["nonce"],
        cnonce=RFC["cnonce"],
    )
    assert ha1 == expected_ha1
    ha2 = h("GET:/dir/index.html")
    expected = h(f"{expected_ha1}:{RFC['nonce']}:00000001:{RFC['cnonce']}:auth:{ha2}")
    assert compute_response(algorithm=algorithm, **RFC) == expected


def test_unsupported_algorithm_and_qop_are_refused() -> None:
    with pytest.raises(InputError, match="not supported"):
        compute_response(algorithm="SHA-512-256", **RFC)
    with pytest.raises(InputError, match="auth-int"):
        compute_response(algorithm="MD5", qop="auth-int", **RFC)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("md5", "MD5"),
        ("MD5-SESS", "MD5-sess"),
        ("sha-256", "SHA-256"),
        ("Sha-256-Sess", "SHA-256-sess"),
        ("SHA-512-256", None),
        ("SHA256", None),
    ],
)
def test_canonical_algorithm(name: str, canonical: str | None) -> None:
    assert canonical_algorithm(name) == canonical


def test_nonce_count_format() -> None:
    assert format_nc(1) == "00000001"
    assert format_nc(0x1A) == "0000001a"
    for bad in (0, 2**32):
        with pytest.raises(InputError):
            format_nc(bad)


def test_parses_several_challenges_in_one_header_and_across_headers() -> None:
    parsed = parse_auth_header(
        [
            'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
            'Digest realm="a, b", nonce=abc, qop="auth,auth-int", algorithm=SHA-256',
            "Bearer",
        ]
    )
    assert [c.scheme for c in parsed] == ["newauth", "basic", "digest", "bearer"]
    assert dict(parsed[0].params) == {"realm": "apps", "type": "1", "title": 'Login to "apps"'}
    assert parsed[2].params["realm"] == "a, b"
    assert parsed[2].params["qop"] == "auth,auth-int"
    assert parsed[3].params == {}


def test_parses_token68_credentials() -> None:
    (basic,) = parse_auth_header(["Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="])
    assert basic == AuthChallenge("basic", {}, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    (bearer,) = parse_auth_header(["Bearer abc="])
    assert bearer.token68 == "abc="


@pytest.mark.parametrize(
    "header",
    [
        'Digest realm="unterminated',
        'Digest realm="a" nonce="b"',
        "Digest realm=a, realm=b",
        '=realm="x"',
        "Basic abc def",
        'Digest realm="tab\x01"',
        "x" * 9000,
    ],
)
def test_malformed_headers_raise_the_faxpush_error(header: str) -> None:
    with pytest.raises(MalformedAuthHeaderError):
        parse_auth_header([header])


def _digest(params: str) -> AuthChallenge:
    (challenge,) = parse_auth_header([f"Digest {params}"])
    return challenge


def test_strongest_challenge_wins_whatever_the_order() -> None:
    md5 = _digest('realm="r", nonce="n1", qop="auth", algorithm=MD5')
    sha = _digest('realm="r", nonce="n2", qop="auth", algorithm=SHA-256')
    md5_sess = _digest('realm="r", nonce="n3", qop="auth", algorithm=MD5-sess')
    for offered in ([md5, sha], [sha, md5], [md5_sess, md5, sha]):
        chosen = choose_challenge(offered)
        assert chosen is not None
        assert (chosen.algorithm, chosen.nonce) == ("SHA-256", "n2")
    chosen = choose_challenge([md5_sess, md5])
    assert chosen is not None
    assert chosen.algorithm == "MD5-sess"  # equal strength: the first offered


def test_unanswerable_challenges_are_skipped() -> None:
    assert usable_challenge(_digest('realm="r", nonce="n", qop="auth-int"')) is None
    assert (
        usable_challenge(_digest('realm="r", nonce="n", qop="auth", algorithm=SHA-512-256')) is None
    )
    assert usable_challenge(_digest('realm="r", qop="auth"')) is None
    assert usable_challenge(_digest('nonce="n", qop="auth"')) is None
    assert usable_challenge(_digest('realm="r", nonce="n"')) is None  # RFC 2069 style
    basic = parse_auth_header(['Basic realm="r"'])
    assert choose_challenge(basic) is None
    chosen = usable_challenge(_digest('realm="r", nonce="n", qop="auth-int, auth", stale=TRUE'))
    assert chosen == DigestChallenge(realm="r", nonce="n", qop=("auth-int", "auth"), stale=True)


def test_format_challenge_round_trips() -> None:
    header = format_challenge(
        realm='we"ird\\realm', nonce="n0nce", algorithm="md5-sess", stale=True
    )
    chosen = choose_challenge(parse_auth_header([header]))
    assert chosen == DigestChallenge(
        realm='we"ird\\realm', nonce="n0nce", algorithm="MD5-sess", qop=("auth",), stale=True
    )
    with pytest.raises(InputError):
        format_challenge(realm="r", nonce="n", algorithm="SHA-1")


def test_non_ascii_username_travels_as_username_star() -> None:
    challenge = DigestChallenge(realm="r", nonce="n", algorithm="SHA-256")
    header = format_authorization(
        challenge, username="Jäsøn Doe", password="pw", method="POST", uri="/", nc=2, cnonce="c"
    )
    assert "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe" in header
    parsed = parse_authorization(header)
    assert parsed.username == "Jäsøn Doe"
    expected = compute_response(
        algorithm="SHA-256",
        username="Jäsøn Doe",
        realm="r",
        password="pw",
        method="POST",
        uri="/",
        nonce="n",
        nc="00000002",
        cnonce="c",
    )
    assert parsed.response == expected


def test_parse_authorization_rejects_incomplete_or_foreign_credentials() -> None:
    with pytest.raises(MalformedAuthHeaderError, match="username, response"):
        parse_authorization('Digest realm="r", nonce="n", uri="/"')
    with pytest.raises(MalformedAuthHeaderError, match="exactly one Digest"):
        parse_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    with pytest.raises(MalformedAuthHeaderError, match="UTF-8"):
        parse_authorization("Digest username*=UTF-8''%FF, realm=r, nonce=n, uri=\"/\", response=x")


def test_quote_string_refuses_control_characters() -> None:
    assert quote_string('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(InputError):
        quote_string("line\r\nbreak")


@given(st.text(alphabet=st.characters(min_codepoint=0x20, exclude_characters="\x7f"), max_size=40))
def test_any_printable_realm_survives_quoting_and_parsing(realm: str) -> None:
    header = f"Digest realm={quote_string(realm)}, nonce={quote_string(realm + 'n')}, qop=auth"
    (parsed,) = parse_auth_header([header])
    assert parsed.params["realm"] == realm
    assert parsed.params["nonce"] == realm + "n"
