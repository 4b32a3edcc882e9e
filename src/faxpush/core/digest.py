"""HTTP Digest authentication (RFC 7616) as pure computations.

Parses ``WWW-Authenticate`` / ``Authorization`` header values (RFC 7235 syntax), chooses the
strongest digest challenge offered and formats the header values of both sides; the hashes
are in :mod:`faxpush.core.digest_math`. Supported: MD5, SHA-256 and their ``-sess`` variants
with ``qop=auth``. No I/O: the client middleware and the server-side verifier both build on
this.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote, unquote

from faxpush.core.digest_math import canonical_algorithm, compute_response
from faxpush.core.errors import InputError

# The rank prefers stronger hashes.
_RANK: Mapping[str, int] = {"MD5": 1, "SHA-256": 2}

_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")
_TOKEN68_CHARS = frozenset(string.ascii_letters + string.digits + "-._~+/")
_MAX_HEADER = 8192


class MalformedAuthHeaderError(InputError):
    """An authentication header does not follow RFC 7235 syntax."""


@dataclass(frozen=True, slots=True)
class AuthChallenge:
    """One challenge (or credentials) of any scheme: ``scheme`` lower-cased, params by
    lower-cased name, or a ``token68`` (as Basic and Bearer credentials use)."""

    scheme: str
    params: Mapping[str, str]
    token68: str | None = None


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """A usable digest challenge; ``algorithm`` is one of
    :data:`~faxpush.core.digest_math.SUPPORTED_ALGORITHMS`."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ("auth",)
    opaque: str | None = None
    stale: bool = False


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """The parameters of an ``Authorization: Digest`` header, as a server receives them."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str
    qop: str | None
    nc: str | None
    cnonce: str | None
    opaque: str | None


# --- header syntax -----------------------------------------------------------------------


def parse_auth_header(values: Iterable[str]) -> list[AuthChallenge]:
    """Parse one or more ``WWW-Authenticate`` (or one ``Authorization``) header values.

    Several challenges may share a header value, separated by commas (RFC 7235 §4.1).
    Raises :class:`MalformedAuthHeaderError` naming the offending position.
    """
    challenges: list[AuthChallenge] = []
    for value in values:
        if len(value) > _MAX_HEADER:
            raise MalformedAuthHeaderError(f"authentication header longer than {_MAX_HEADER} bytes")
        challenges.extend(_Scanner(value).challenges())
    return challenges


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _fail(self, what: str) -> MalformedAuthHeaderError:
        return MalformedAuthHeaderError(f"{what} at offset {self.pos} in authentication header")

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip(self, chars: str) -> None:
        while self._peek() and self._peek() in chars:
            self.pos += 1

    def _token(self) -> str:
        start = self.pos
        while self._peek() and self._peek() in _TOKEN_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def _quoted(self) -> str:
        self.pos += 1  # opening quote
        out: list[str] = []
        while True:
            char = self._peek()
            if not char:
                raise self._fail("unterminated quoted string")
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                if not self._peek():
                    raise self._fail("unterminated quoted string")
                char = self._peek()
                self.pos += 1
            elif ord(char) < 0x20 and char != "\t":
                raise self._fail("control character in quoted string")
            out.append(char)

    def _is_param_start(self) -> bool:
        """True when a ``name =`` follows (an auth-param rather than a new scheme)."""
        save = self.pos
        name = self._token()
        self._skip(" \t")
        is_param = bool(name) and self._peek() == "="
        if is_param:
            # The value must start a token or a quoted string; "abc=" or "abc==" is a token68.
            self.pos += 1
            self._skip(" \t")
            is_param = self._peek() == '"' or self._peek() in _TOKEN_CHARS
        self.pos = save
        return is_param

    def challenges(self) -> list[AuthChallenge]:
        found: list[AuthChallenge] = []
        while True:
            self._skip(" \t,")
            if not self._peek():
                return found
            scheme = self._token()
            if not scheme:
                raise self._fail("expected an authentication scheme")
            found.append(self._challenge_body(scheme.lower()))

    def _challenge_body(self, scheme: str) -> AuthChallenge:
        self._skip(" \t")
        if self._peek() in ("", ","):
            return AuthChallenge(scheme, MappingProxyType({}))
        if not self._is_param_start():
            start = self.pos
            while self._peek() and self._peek() in _TOKEN68_CHARS:
                self.pos += 1
            self._skip("=")
            token68 = self.text[start : self.pos]
            self._skip(" \t")
            if not token68 or self._peek() not in ("", ","):
                raise self._fail("malformed token68")
            return AuthChallenge(scheme, MappingProxyType({}), token68)
        params: dict[str, str] = {}
        while True:
            name = self._token().lower()
            self._skip(" \t")
            self.pos += 1  # "=", guaranteed by _is_param_start
            self._skip(" \t")
            value = self._quoted() if self._peek() == '"' else self._token()
            if name in params:
                raise self._fail(f"parameter {name!r} given twice")
            params[name] = value
            self._skip(" \t")
            if self._peek() == "":
                break
            if self._peek() != ",":
                raise self._fail("expected ',' between parameters")
            self._skip(" \t,")
            if not self._peek() or not self._is_param_start():
                break
        return AuthChallenge(scheme, MappingProxyType(params))


def quote_string(value: str) -> str:
    """Render ``value`` as an HTTP quoted-string; control characters are refused."""
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        raise InputError("a control character cannot be sent in an authentication header")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_nc(count: int) -> str:
    """The nonce count as the 8 hex digits the header carries."""
    if not 0 < count <= 0xFFFFFFFF:
        raise InputError(f"nonce count {count} is out of range")
    return f"{count:08x}"


def usable_challenge(challenge: AuthChallenge) -> DigestChallenge | None:
    """The digest challenge in ``challenge`` if faxpush can answer it, else None."""
    params = challenge.params
    if challenge.scheme != "digest" or "realm" not in params or not params.get("nonce"):
        return None
    algorithm = canonical_algorithm(params.get("algorithm", "MD5"))
    qops = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    if algorithm is None or "auth" not in qops:
        return None
    return DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=algorithm,
        qop=qops,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
    )


def choose_challenge(challenges: Iterable[AuthChallenge]) -> DigestChallenge | None:
    """The strongest answerable digest challenge (SHA-256 over MD5; first offered wins ties)."""
    best: DigestChallenge | None = None
    for challenge in challenges:
        usable = usable_challenge(challenge)
        if usable is None:
            continue
        rank = _RANK[usable.algorithm.removesuffix("-sess")]
        if best is None or rank > _RANK[best.algorithm.removesuffix("-sess")]:
            best = usable
    return best


def format_authorization(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    nc: int,
    cnonce: str,
) -> str:
    """The full ``Authorization`` header value answering ``challenge``.

    A username that is not plain ASCII travels as ``username*`` (RFC 7616 §3.4.4).
    """
    nc_text = format_nc(nc)
    response = compute_response(
        algorithm=challenge.algorithm,
        username=username,
        realm=challenge.realm,
        password=password,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        nc=nc_text,
        cnonce=cnonce,
    )
    if username.isascii():
        user_param = f"username={quote_string(username)}"
    else:
        user_param = f"username*=UTF-8''{quote(username, safe='')}"
    parts = [
        user_param,
        f"realm={quote_string(challenge.realm)}",
        f"uri={quote_string(uri)}",
        f"algorithm={challenge.algorithm}",
        f"nonce={quote_string(challenge.nonce)}",
        f"nc={nc_text}",
        f"cnonce={quote_string(cnonce)}",
        "qop=auth",
        f"response={quote_string(response)}",
    ]
    if challenge.opaque is not None:
        parts.append(f"opaque={quote_string(challenge.opaque)}")
    return "Digest " + ", ".join(parts)


def format_challenge(
    *,
    realm: str,
    nonce: str,
    algorithm: str = "SHA-256",
    opaque: str | None = None,
    stale: bool = False,
) -> str:
    """A ``WWW-Authenticate`` header value offering ``qop=auth`` with ``algorithm``."""
    canonical = canonical_algorithm(algorithm)
    if canonical is None:
        raise InputError(f"digest algorithm {algorithm!r} is not supported")
    parts = [
        f"realm={quote_string(realm)}",
        'qop="auth"',
        f"algorithm={canonical}",
        f"nonce={quote_string(nonce)}",
    ]
    if opaque is not None:
        parts.append(f"opaque={quote_string(opaque)}")
    if stale:
        parts.append("stale=true")
    return "Digest " + ", ".join(parts)


def parse_authorization(value: str) -> DigestCredentials:
    """Parse an ``Authorization: Digest …`` header value (the server side)."""
    parsed = parse_auth_header([value])
    if len(parsed) != 1 or parsed[0].scheme != "digest":
        raise MalformedAuthHeaderError("expected exactly one Digest credentials header")
    params = parsed[0].params
    username = params.get("username")
    if username is None and "username*" in params:
        username = _decode_ext_value(params["username*"])
    missing = [k for k in ("realm", "nonce", "uri", "response") if k not in params]
    if username is None or missing:
        missing = ["username", *missing] if username is None else missing
        raise MalformedAuthHeaderError(f"Digest credentials lack {', '.join(missing)}")
    return DigestCredentials(
        username=username,
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"].lower(),
        algorithm=params.get("algorithm", "MD5"),
        qop=params.get("qop"),
        nc=params.get("nc"),
        cnonce=params.get("cnonce"),
        opaque=params.get("opaque"),
    )


def _decode_ext_value(value: str) -> str:
    charset, sep, rest = value.partition("'")
    _language, sep2, encoded = rest.partition("'")
    if not (sep and sep2) or charset.upper() != "UTF-8":
        raise MalformedAuthHeaderError("username* must be UTF-8''<percent-encoded>")
    try:
        return unquote(encoded, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise MalformedAuthHeaderError("username* is not valid percent-encoded UTF-8") from None
