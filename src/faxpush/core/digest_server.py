"""The server side of HTTP Digest (RFC 7616) as pure computations: nonces and nonce counts.

A receiver keeps only H(A1) per user and algorithm, never the password, and computes the
``response`` from it with :func:`faxpush.core.digest_math.response_from_ha1`. Nonces are
stateless: the issue time and a random salt, signed with the server key
(:func:`issue_nonce`, :func:`open_nonce`); whether a nonce is too old is the caller's
decision, made with the time it passes in. Parsing headers and formatting challenges are in
:mod:`faxpush.core.digest`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final

from faxpush.core.errors import InputError

_TIME_BYTES: Final = 8
_SALT_BYTES: Final = 12
_MAC_BYTES: Final = 16
NONCE_LENGTH: Final = len(
    base64.urlsafe_b64encode(b"\0" * (_TIME_BYTES + _SALT_BYTES + _MAC_BYTES))
)


def _mac(key: bytes, realm: str, payload: bytes) -> bytes:
    signed = realm.encode("utf-8") + b"\0" + payload
    return hmac.new(key, signed, hashlib.sha256).digest()[:_MAC_BYTES]


def issue_nonce(key: bytes, *, realm: str, issued_at_ms: int, salt: bytes) -> str:
    """A nonce carrying its issue time (ms since the epoch), signed for ``realm``.

    ``salt`` (12 random bytes) makes every nonce distinct; the result is URL-safe base64 of
    fixed length without quotes or commas, so it travels unescaped in headers.
    """
    if len(salt) != _SALT_BYTES:
        raise InputError(f"a nonce salt is {_SALT_BYTES} bytes, got {len(salt)}")
    if not 0 <= issued_at_ms < 2**63:
        raise InputError("the nonce issue time is out of range")
    payload = issued_at_ms.to_bytes(_TIME_BYTES, "big") + salt
    return base64.urlsafe_b64encode(payload + _mac(key, realm, payload)).decode("ascii")


def open_nonce(key: bytes, nonce: str, *, realm: str) -> int | None:
    """The issue time (ms) of a nonce this server signed for ``realm``; None for any other.

    The signature is compared in constant time; malformed input is simply not ours.
    """
    if len(nonce) != NONCE_LENGTH or not nonce.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(nonce.encode("ascii"))
    except (binascii.Error, ValueError):
        return None
    payload, mac = raw[: _TIME_BYTES + _SALT_BYTES], raw[_TIME_BYTES + _SALT_BYTES :]
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, _mac(key, realm, payload)):
        return None
    return int.from_bytes(payload[:_TIME_BYTES], "big")


def parse_nc(value: str | None) -> int | None:
    """The nonce count of an ``nc`` parameter (exactly 8 hex digits), or None if invalid."""
    if value is None or len(value) != 8:
        return None
    try:
        count = int(value, 16)
    except ValueError:
        return None
    return count if count > 0 and all(c in "0123456789abcdefABCDEF" for c in value) else None


__all__ = [
    "NONCE_LENGTH",
    "issue_nonce",
    "open_nonce",
    "parse_nc",
]
