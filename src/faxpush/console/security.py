"""The console's sessions, CSRF tokens and login throttle.

A session is a signed cookie (HMAC-SHA256 under a key derived from the configured secret
key, so every process with the same key accepts it and a restart keeps people logged in).
It names who logged in and how (console user or API token), when it expires, and a proof:
the token's hash, or a digest of the user's password hash. Each request checks that the
proof still matches the store, so deleting a user (even one created again under the same
name) or revoking a token ends its sessions. The CSRF token of a form is an HMAC of the
session's random nonce.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

SESSION_COOKIE: Final = "faxpush_console"
SESSION_SECONDS: Final = 8 * 3600
FAILURE_WINDOW_SECONDS: Final = 15 * 60
MAX_DELAY_SECONDS: Final = 8.0
FIRST_DELAY_SECONDS: Final = 0.25
IN_FLIGHT_PER_NAME: Final = 1
IN_FLIGHT_PER_ADDRESS: Final = 4


@dataclass(frozen=True, slots=True)
class Session:
    """Who is logged in: a console user (``kind`` "user") or an API token ("token").
    ``proof`` is the token's hash or the user's :func:`password_fingerprint`, checked on
    every request."""

    kind: str
    name: str
    can_write: bool
    expires: float  # time.time()
    nonce: str
    proof: str


class SessionSigner:
    """Encodes sessions into cookie values and back, refusing altered or expired ones."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encode(self, session: Session) -> str:
        document = [
            session.kind,
            session.name,
            session.can_write,
            session.expires,
            session.nonce,
            session.proof,
        ]
        payload = base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload.encode())}"

    def decode(self, value: str | None, *, now: float) -> Session | None:
        if not value or "." not in value:
            return None
        payload, _, mac = value.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            kind, name, can_write, expires, nonce, proof = json.loads(raw)
        except (binascii.Error, ValueError, TypeError):
            return None
        if not isinstance(proof, str):  # a cookie of an older version: log in again
            return None
        session = Session(kind, name, bool(can_write), float(expires), nonce, proof)
        return session if session.expires > now else None

    def csrf_token(self, session: Session) -> str:
        return self._mac(f"csrf {session.nonce}".encode())

    def csrf_valid(self, session: Session, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent, self.csrf_token(session))


def new_session(kind: str, name: str, *, can_write: bool, proof: str) -> Session:
    return Session(
        kind, name, can_write, time.time() + SESSION_SECONDS, secrets.token_urlsafe(16), proof
    )


class LoginThrottle:
    """Failed logins per user name and per client address, in bounded memory: each failure
    doubles the wait before the next attempt with that name or from that address is
    checked (from a quarter second up to eight seconds), for fifteen minutes.

    Attempts are also limited in number at any one time (:meth:`admit`): one per user name
    and four per address. Without that, guesses sent in parallel would all wait the same
    delay and be checked together, and the doubling would never catch up with them.
    """

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._in_flight: dict[str, int] = {}

    def admit(self, keys: tuple[str, ...]) -> bool:
        """Count an attempt as under way under each of ``keys`` (``user:…``, ``addr:…``),
        unless one of them already has its most; then False, and nothing is counted. Every
        True must be followed by :meth:`release` with the same keys."""
        if any(self._in_flight.get(key, 0) >= _in_flight_limit(key) for key in keys):
            return False
        for key in keys:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return True

    def release(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            left = self._in_flight.get(key, 0) - 1
            if left > 0:
                self._in_flight[key] = left
            else:
                self._in_flight.pop(key, None)

    def _count(self, key: str, now: float) -> int:
        found = self._failures.get(key)
        if found is None or now - found[1] > FAILURE_WINDOW_SECONDS:
            return 0
        return found[0]

    def delay(self, keys: tuple[str, ...]) -> float:
        now = time.monotonic()
        failures = max((self._count(key, now) for key in keys), default=0)
        if failures == 0:
            return 0.0
        return float(min(FIRST_DELAY_SECONDS * 2 ** (failures - 1), MAX_DELAY_SECONDS))

    async def wait(self, keys: tuple[str, ...]) -> None:
        if (seconds := self.delay(keys)) > 0:
            await asyncio.sleep(seconds)

    def failed(self, keys: tuple[str, ...]) -> None:
        now = time.monotonic()
        for key in keys:
            count = self._count(key, now)
            self._failures.pop(key, None)
            self._failures[key] = (count + 1, now)
        while len(self._failures) > self.max_entries:
            self._failures.popitem(last=False)

    def succeeded(self, name_key: str) -> None:
        self._failures.pop(name_key, None)


def _in_flight_limit(key: str) -> int:
    return IN_FLIGHT_PER_NAME if key.startswith("user:") else IN_FLIGHT_PER_ADDRESS


__all__ = [
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "LoginThrottle",
    "Session",
    "SessionSigner",
    "new_session",
]
