"""Password hashes of the emulator's REST API logins and of the web console's users: scrypt
with a salt of its own per password, compared in constant time. Also the digests of operator
API tokens and of stored password hashes.

A hash is stored as ``scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>`` so that the cost
parameters can be raised later without invalidating existing logins. With the parameters
below a hash or a check costs 16 MiB (128 * n * r bytes) and, measured, 40 ms of a free core
(up to 200 ms on a busy one): slow enough to make a stolen hash expensive to guess, cheap
enough for a login.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from functools import cache
from typing import Final

from faxpush.core.errors import InputError

SCHEME: Final = "scrypt"
COST_N: Final = 2**14
BLOCK_SIZE_R: Final = 8
PARALLEL_P: Final = 1
SALT_BYTES: Final = 16
KEY_BYTES: Final = 32
_MAX_COST_N: Final = 2**20  # refuse stored parameters that would take absurd time or memory
_MAX_MEMORY: Final = 256 * 1024 * 1024
MIN_PASSWORD_LENGTH: Final = 8  # characters of a new console password
MAX_PASSWORD_LENGTH: Final = 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=_MAX_MEMORY
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A new salted hash of ``password`` (the password itself is not kept)."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, COST_N, BLOCK_SIZE_R, PARALLEL_P)
    return f"{SCHEME}${COST_N}${BLOCK_SIZE_R}${PARALLEL_P}${_b64(salt)}${_b64(key)}"


def check_new_password(password: str) -> None:
    """Refuse a new password that is too short (or absurdly long) with an InputError."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"the password is {len(password)} characters long; choose one of at least "
            f"{MIN_PASSWORD_LENGTH}"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")


def is_password_hash(value: str) -> bool:
    """True when ``value`` has the shape of a hash made by :func:`hash_password`."""
    return _parse(value) is not None


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if not (1 < n <= _MAX_COST_N and n & (n - 1) == 0 and 0 < r <= 64 and 0 < p <= 16):
        return None
    if len(key) != KEY_BYTES or not salt:
        return None
    return n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the ``stored`` hash; False for any malformed hash."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, n, r, p), key)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which an operator API token is stored. A token is 32
    random bytes, so a fast hash suffices (a password needs scrypt)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def password_fingerprint(stored: str) -> str:
    """A digest of a stored password hash, kept in a console session: a user deleted and
    created again under the same name gets a new salt, so the old sessions stop matching."""
    return hashlib.sha256(stored.encode("utf-8")).hexdigest()[:32]


@cache
def dummy_hash() -> str:
    """A hash to verify against for unknown logins, so they take as long as wrong passwords."""
    return hash_password(secrets.token_urlsafe(16))
