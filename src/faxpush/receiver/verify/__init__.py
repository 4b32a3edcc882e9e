"""Server-side verification of the four push auth methods.

=============  ==============================================================================
NONE           :class:`NoAuthVerifier`
HTTP_BASIC     :class:`BasicVerifier` (RFC 7617)
HTTP_DIGEST    :class:`DigestVerifier` (RFC 7616, users stored as H(A1) only)
OAUTH2         :class:`BearerVerifier` with a :class:`JwtValidator` (JWKS) or an
               :class:`IntrospectionValidator` (RFC 7662)
=============  ==============================================================================

Every verifier answers the same 401 for an unknown user and a wrong secret, and compares
secrets in constant time.
"""

from faxpush.receiver.verify.base import AuthRequest, AuthResult, NoAuthVerifier, Verifier
from faxpush.receiver.verify.basic import BasicVerifier
from faxpush.receiver.verify.bearer import (
    BearerVerifier,
    InvalidTokenError,
    JwtValidator,
    TokenValidator,
)
from faxpush.receiver.verify.digest import DigestUser, DigestVerifier, NonceCounter, SignedNonces
from faxpush.receiver.verify.introspection import IntrospectionValidator
from faxpush.receiver.verify.jwks import KeySource, RemoteJwks, StaticJwks

__all__ = [
    "AuthRequest",
    "AuthResult",
    "BasicVerifier",
    "BearerVerifier",
    "DigestUser",
    "DigestVerifier",
    "IntrospectionValidator",
    "InvalidTokenError",
    "JwtValidator",
    "KeySource",
    "NoAuthVerifier",
    "NonceCounter",
    "RemoteJwks",
    "SignedNonces",
    "StaticJwks",
    "TokenValidator",
    "Verifier",
]
