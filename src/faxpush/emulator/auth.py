"""HTTP Basic authentication of REST API calls against the stored logins.

Verifying a scrypt hash takes tens of milliseconds by design, so successful verifications
are remembered for a short while under a keyed digest of login and password (never the
password itself), and concurrent first calls with the same credentials share one
verification. Unknown logins are checked against a dummy hash, so they cost as much as a
wrong password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from faxpush.core.passwords import dummy_hash, verify_password
from faxpush.storage.jobs_base import JobStore

CACHE_SECONDS = 60.0
CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made an authenticated call."""

    login: str
    customer_number: str


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(login, password)`` from an ``Authorization: Basic …`` header, or None.

    The standard base64 alphabet is expected; the URL-safe one (which one official SDK
    sends) is accepted too, since its ``-`` and ``_`` cannot occur in standard base64."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "basic" or not token or len(token) > 4096:
        return None
    token = token.translate(str.maketrans("-_", "+/"))
    token += "=" * (-len(token) % 4)
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    login, colon, password = text.partition(":")
    if not colon or not login:
        return None
    return login, password


class BasicAuthenticator:
    """Checks Basic credentials against a :class:`JobStore`'s logins."""

    def __init__(
        self,
        jobs: JobStore,
        *,
        cache_seconds: float = CACHE_SECONDS,
        cache_size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jobs = jobs
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, tuple[Caller, float]] = OrderedDict()
        self._pending: dict[bytes, asyncio.Task[Caller | None]] = {}

    def forget(self) -> None:
        """Drop every remembered verification (after a password change)."""
        self._verified.clear()

    async def authenticate(self, header: str | None) -> Caller | None:
        """The caller for a valid ``Authorization`` header, or None."""
        credentials = parse_basic(header)
        if credentials is None:
            return None
        login, password = credentials
        digest = hmac.new(
            self._key, login.encode() + b"\0" + password.encode(), hashlib.sha256
        ).digest()
        remembered = self._verified.get(digest)
        if remembered is not None and remembered[1] > self._clock():
            self._verified.move_to_end(digest)
            return remembered[0]
        task = self._pending.get(digest)
        if task is None:
            task = asyncio.ensure_future(self._verify(login, password))
            self._pending[digest] = task
            task.add_done_callback(lambda done: self._settle(digest, done))
        return await asyncio.shield(task)

    def _settle(self, digest: bytes, task: asyncio.Task[Caller | None]) -> None:
        del self._pending[digest]
        if task.cancelled() or task.exception() is not None:
            return  # the exception reaches every caller through the shield
        caller = task.result()
        if caller is not None:
            self._remember(digest, caller)

    async def _verify(self, login: str, password: str) -> Caller | None:
        stored = await self._jobs.get_login(login)
        expected = stored.password_hash if stored is not None else dummy_hash()
        matches = await asyncio.to_thread(verify_password, password, expected)
        if stored is None or not matches:
            return None
        return Caller(stored.login, stored.customer_number)

    def _remember(self, digest: bytes, caller: Caller) -> None:
        self._verified[digest] = (caller, self._clock() + self._cache_seconds)
        self._verified.move_to_end(digest)
        while len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
