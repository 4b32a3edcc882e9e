"""Operator API tokens: made here, kept by the store only as SHA-256 hashes.

A token is ``fxp_`` and 32 random bytes (URL-safe base64): far too much entropy to guess, so
an unsalted SHA-256 is enough to look it up by hash without keeping the token itself, and a
stolen database gives no usable token.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from datetime import datetime
from typing import Final

from faxpush.admin.errors import AdminError
from faxpush.core.passwords import token_hash
from faxpush.storage.operator import ApiToken, OperatorStore, TokenScope

TOKEN_PREFIX: Final = "fxp_"  # noqa: S105 - a visible marker, not a secret
_TOUCH_EVERY_SECONDS: Final = 60.0  # the store may skip more often writes anyway


def new_token() -> str:
    """A fresh random API token (shown once, then only its hash is kept)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _unauthorized(message: str) -> AdminError:
    return AdminError(401, "unauthorized", message, field="Authorization")


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or a 401."""
    if not authorization:
        raise _unauthorized(
            "this call needs an API token: send 'Authorization: Bearer <token>' "
            "(create one with 'faxpush admin token create NAME')"
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    return token


class TokenCache:
    """Tokens found by hash, kept for ``seconds``: looking a token up in the database cost
    about a quarter of an ingest request's time on SQLite. A revoked token is therefore
    refused within ``seconds`` (0: every request asks the database)."""

    def __init__(self, seconds: float = 1.0, *, max_entries: int = 1024) -> None:
        self.seconds, self.max_entries = seconds, max_entries
        self._found: dict[str, tuple[ApiToken, float]] = {}

    async def lookup(self, store: OperatorStore, digest: str) -> ApiToken | None:
        now = time.monotonic()
        cached = self._found.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = await store.api_token_by_hash(digest)
        if found is not None and self.seconds > 0:
            if len(self._found) >= self.max_entries:
                self._found.clear()
            self._found[digest] = (found, now + self.seconds)
        return found

    def remember_use(self, digest: str, token: ApiToken, used_at: datetime) -> None:
        cached = self._found.get(digest)
        if cached is not None:
            self._found[digest] = (replace(token, last_used_at=used_at), cached[1])


async def authenticate(
    store: OperatorStore,
    authorization: str | None,
    *,
    needs: TokenScope,
    now: datetime,
    cache: TokenCache | None = None,
) -> ApiToken:
    """The unrevoked token the request carries, allowed ``needs``; else a 401 or 403."""
    digest = token_hash(bearer_token(authorization))
    found = await (cache or TokenCache(0)).lookup(store, digest)
    if found is None:
        raise _unauthorized("the API token is unknown or revoked")
    if needs is TokenScope.WRITE and found.scope is not TokenScope.WRITE:
        raise AdminError(
            403,
            "forbidden",
            f"the token {found.name!r} has scope {found.scope.value}; this call needs a "
            "write token (faxpush admin token create NAME --scope write)",
            field="Authorization",
        )
    last = found.last_used_at
    if last is None or (now - last).total_seconds() >= _TOUCH_EVERY_SECONDS:
        await store.touch_api_token(found.name, now=now)
        if cache is not None:
            cache.remember_use(digest, found, now)
    return found


__all__ = [
    "TOKEN_PREFIX",
    "TokenCache",
    "authenticate",
    "bearer_token",
    "new_token",
    "token_hash",
]
