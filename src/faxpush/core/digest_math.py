"""The hashes of HTTP Digest (RFC 7616 §3.4), written once for the client and the server.

A client computes ``response`` from the password (:func:`compute_response`); a receiver keeps
only H(username:realm:password) per user and base algorithm (:func:`user_ha1`) and computes it
from that (:func:`response_from_ha1`). Supported: MD5, SHA-256 and their ``-sess`` variants
with ``qop=auth``; strings are UTF-8.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from faxpush.core.errors import InputError

# Canonical algorithm name (without ``-sess``) -> hashlib name.
_HASHES: Mapping[str, str] = {"MD5": "md5", "SHA-256": "sha256"}
SUPPORTED_ALGORITHMS: tuple[str, ...] = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")


def canonical_algorithm(name: str) -> str | None:
    """``sha-256-SESS`` -> ``SHA-256-sess``; None when the algorithm is not supported."""
    upper = name.strip().upper()
    base, sess = (upper[:-5], True) if upper.endswith("-SESS") else (upper, False)
    if base not in _HASHES:
        return None
    return f"{base}-sess" if sess else base


def _hash(algorithm: str, data: str) -> str:
    base = algorithm.removesuffix("-sess")
    return hashlib.new(_HASHES[base], data.encode("utf-8"), usedforsecurity=False).hexdigest()


def _session_ha1(algorithm: str, ha1: str, nonce: str, cnonce: str) -> str:
    """The ``-sess`` variants mix the nonce and cnonce into H(A1)."""
    return _hash(algorithm, f"{ha1}:{nonce}:{cnonce}") if algorithm.endswith("-sess") else ha1


def _check_supported(algorithm: str, qop: str) -> None:
    if canonical_algorithm(algorithm) != algorithm:
        raise InputError(f"digest algorithm {algorithm!r} is not supported")
    if qop != "auth":
        raise InputError(f"digest qop {qop!r} is not supported; only 'auth' is")


def compute_ha1(
    algorithm: str, *, username: str, realm: str, password: str, nonce: str, cnonce: str
) -> str:
    """H(A1) of RFC 7616 §3.4.2; the ``-sess`` variants mix in the nonce and cnonce."""
    ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    return _session_ha1(algorithm, ha1, nonce, cnonce)


def user_ha1(algorithm: str, *, username: str, realm: str, password: str) -> str:
    """H(username:realm:password) for the base ``algorithm`` (``-sess`` uses the same value)."""
    canonical = canonical_algorithm(algorithm)
    if canonical is None:
        raise InputError(f"digest algorithm {algorithm!r} is not supported; use SHA-256 or MD5")
    return _hash(canonical, f"{username}:{realm}:{password}")


def compute_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str,
    cnonce: str,
    qop: str = "auth",
) -> str:
    """The ``response`` value (RFC 7616 §3.4.1) a client with ``password`` sends."""
    _check_supported(algorithm, qop)
    return response_from_ha1(
        algorithm=algorithm,
        ha1=_hash(algorithm, f"{username}:{realm}:{password}"),
        method=method,
        uri=uri,
        nonce=nonce,
        nc=nc,
        cnonce=cnonce,
        qop=qop,
    )


def response_from_ha1(
    *,
    algorithm: str,
    ha1: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str,
    cnonce: str,
    qop: str = "auth",
) -> str:
    """The ``response`` a client with the right password sends (RFC 7616 §3.4.1, qop=auth).

    ``algorithm`` is canonical (``SHA-256``, ``MD5-sess``…); ``ha1`` is the stored
    :func:`user_ha1` of its base algorithm.
    """
    _check_supported(algorithm, qop)
    session_ha1 = _session_ha1(algorithm, ha1, nonce, cnonce)
    ha2 = _hash(algorithm, f"{method}:{uri}")
    return _hash(algorithm, f"{session_ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


__all__ = [
    "SUPPORTED_ALGORITHMS",
    "canonical_algorithm",
    "compute_ha1",
    "compute_response",
    "response_from_ha1",
    "user_ha1",
]
