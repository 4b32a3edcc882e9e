"""OAUTH2 on the receiving side: ``Authorization: Bearer`` access tokens.

Two ways to check a token:

* :class:`JwtValidator`: a JWT signed by a key of the issuer's JWKS, with the expected
  issuer and audience, not expired, signed with an allowed asymmetric algorithm (``none`` and
  shared-secret ``HS*`` algorithms are never accepted);
* :class:`IntrospectionValidator`: an opaque token asked about at an RFC 7662
  introspection endpoint, answers cached (see there).

Any failure answers 401 with ``WWW-Authenticate: Bearer error="invalid_token"``; a request
without a token gets the bare ``Bearer`` challenge (RFC 6750 §3.1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Protocol

import jwt

from faxpush.core.digest import quote_string
from faxpush.core.errors import ConfigurationError, VerificationError
from faxpush.core.models import AuthMethod
from faxpush.receiver.errors import AuthenticationRequiredError
from faxpush.receiver.verify.base import AuthRequest, AuthResult, single_authorization
from faxpush.receiver.verify.jwks import KeySource

ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS: Final = ("RS256", "ES256")
DEFAULT_REALM = "faxpush"
MAX_TOKEN_LENGTH: Final = 8192
_TOKEN68: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class InvalidTokenError(VerificationError):
    """The access token is not valid."""


class TokenValidator(Protocol):
    """Checks an access token; returns the principal (client id or subject)."""

    async def validate(self, token: str) -> str | None:
        """The token's principal, or raise InvalidTokenError."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class JwtValidator:
    """Validates JWT access tokens against a key source (usually a JWKS URL)."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway: float = 30.0,
    ) -> None:
        refused = sorted(set(algorithms) - ASYMMETRIC_ALGORITHMS)
        if refused or not algorithms:
            raise ConfigurationError(
                f"JWT algorithms {', '.join(refused) or '(none given)'} are not allowed; use "
                f"asymmetric ones: {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}"
            )
        if not issuer or not audience:
            raise ConfigurationError("JWT validation needs the expected issuer and audience")
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self._leeway = leeway

    async def validate(self, token: str) -> str | None:
        """The token's ``client_id`` (or ``azp``, or ``sub``) when every check passes."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidTokenError("not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise InvalidTokenError(f"algorithm {str(algorithm)[:20]!r} is not allowed")
        kid = header.get("kid")
        key = await self._keys.get_key(kid if isinstance(kid, str) else None)
        if key is None:
            raise InvalidTokenError("signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"rejected: {type(exc).__name__}") from None
        except (ValueError, TypeError):  # key material that does not fit the algorithm
            raise InvalidTokenError("rejected: key does not fit the algorithm") from None
        for claim in ("client_id", "azp", "sub"):
            value = claims.get(claim)
            if isinstance(value, str):
                return value
        return None

    async def aclose(self) -> None:
        """Close the key source."""
        await self._keys.aclose()


class BearerVerifier:
    """Accepts ``Authorization: Bearer <token>`` that ``validator`` accepts."""

    def __init__(self, validator: TokenValidator, *, realm: str = DEFAULT_REALM) -> None:
        self._validator = validator
        self.realm = realm
        self._bare = f"Bearer realm={quote_string(realm)}"
        self._invalid = f'{self._bare}, error="invalid_token"'

    @property
    def method(self) -> AuthMethod:
        return AuthMethod.OAUTH2

    async def verify(self, request: AuthRequest) -> AuthResult:
        """Accept the request when its bearer token is valid."""
        header = single_authorization(request)
        if header is None:
            if not request.authorization:
                raise AuthenticationRequiredError("no credentials", challenges=[self._bare])
            raise AuthenticationRequiredError("malformed", challenges=[self._invalid])
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if (
            scheme.lower() != "bearer"
            or len(token) > MAX_TOKEN_LENGTH
            or _TOKEN68.fullmatch(token) is None
        ):
            raise AuthenticationRequiredError("expected a Bearer token", challenges=[self._invalid])
        try:
            principal = await self._validator.validate(token)
        except InvalidTokenError as exc:
            raise AuthenticationRequiredError(
                f"invalid token: {exc}", challenges=[self._invalid]
            ) from None
        return AuthResult(AuthMethod.OAUTH2, principal)

    async def aclose(self) -> None:
        """Close the validator."""
        await self._validator.aclose()


__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "BearerVerifier",
    "InvalidTokenError",
    "JwtValidator",
    "TokenValidator",
]
