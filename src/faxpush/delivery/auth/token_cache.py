"""The OAuth2 access token cache: per credentials and account, single flight, optional store.

A token is reused only by a push with the same token URL, client id, client secret and
account (customer number). Keying on the client id alone would hand one customer's token to
another customer who names the same client id with a wrong secret, and would hide a wrong
secret while a good token is cached. The secret enters the key as an HMAC-SHA256, never in
clear: the key is stored in plain text beside the token, and without the HMAC key a reader
of the database cannot test guesses of the secret against it.

Tokens are kept until ``expires_in`` minus a safety margin. Concurrent pushes that need
the same token wait for one request to the token endpoint instead of each making their
own. A persistent store (anything with the ``Store`` token methods) lets tokens survive
restarts and be shared between workers; it is best effort: when it fails, the cache
carries on in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from faxpush.core.clock import Clock, utcnow
from faxpush.core.errors import DeliveryError, StorageError
from faxpush.core.secrets import Secret

logger = logging.getLogger(__name__)

# What a store's cipher derives the secret hash key for (SecretCipher.derive_key).
TOKEN_CACHE_PURPOSE = "oauth2 token cache key"  # noqa: S105 - a label, not a password


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as the endpoint issued it; ``expires_in`` in seconds, None when not given."""

    access_token: Secret
    expires_in: float | None


class TokenStore(Protocol):
    """The token part of :class:`faxpush.storage.base.Store`."""

    async def get_token(self, cache_key: str, *, now: datetime) -> Secret | None: ...

    async def put_token(self, cache_key: str, token: Secret, *, expires_at: datetime) -> None: ...


@dataclass(slots=True)
class _Flight:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    failure: DeliveryError | None = None


class TokenCache:
    """Caches OAuth2 access tokens; share one instance between all pushes of a process.

    ``margin`` is subtracted from ``expires_in`` (a token living shorter than twice the
    margin is kept for half its life); ``default_lifetime`` applies when the endpoint
    gives no ``expires_in``; ``clock`` returns aware UTC datetimes (tests move it).

    ``secret_hash_key`` keys the HMAC of the client secret in :meth:`cache_key`. Caches that
    share a store must share this key to find each other's tokens, so a worker derives it
    from the key that seals the stored secrets (see :meth:`SecretCipher.derive_key
    <faxpush.storage.cipher.SecretCipher.derive_key>`); None: a random key for this cache,
    so stored tokens are only found again by this instance. ``on_fetch`` is told of every
    request to a token endpoint, whether it gave a token (metrics count them).
    """

    def __init__(
        self,
        store: TokenStore | None = None,
        *,
        secret_hash_key: bytes | None = None,
        margin: timedelta = timedelta(seconds=60),
        default_lifetime: timedelta = timedelta(hours=1),
        max_entries: int = 1024,
        clock: Clock = utcnow,
        on_fetch: Callable[[bool], None] | None = None,
    ) -> None:
        self._store = store
        self._on_fetch = on_fetch
        self._secret_hash_key = (
            secrets.token_bytes(32) if secret_hash_key is None else secret_hash_key
        )
        self._margin = margin
        self._default_lifetime = default_lifetime
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[Secret, datetime]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}

    def cache_key(
        self, *, token_url: str, client_id: str, client_secret: Secret, account: str | None
    ) -> str:
        """The key a token is cached (and stored) under.

        ``account`` is the push's customer number; None (a push without one) is kept apart
        from every customer, the empty one included. Keys written by earlier versions
        (``oauth2 <token URL> <client id>``) never match, so their tokens are fetched anew.
        """
        digest = hmac.new(
            self._secret_hash_key, client_secret.reveal().encode("utf-8"), hashlib.sha256
        ).hexdigest()
        fields = json.dumps([token_url, client_id, account, digest], ensure_ascii=False)
        return f"oauth2/2 {fields}"

    async def obtain(
        self,
        key: str,
        fetch: Callable[[], Awaitable[IssuedToken]],
        *,
        reject: Secret | None = None,
    ) -> tuple[Secret, bool]:
        """A valid token for ``key`` and whether this call fetched it from the endpoint.

        ``reject`` is a token the receiver just refused: it is dropped and a new one is
        fetched, bypassing the store, unless another push already replaced it.
        Errors raised by ``fetch`` propagate.
        """
        if reject is not None:
            self._drop(key, reject)
        token = self._fresh(key)
        if token is not None:
            return token, False
        async with self._single_flight(key) as flight:
            token = self._fresh(key)
            if token is not None:
                return token, False
            if flight.failure is not None:
                raise flight.failure  # the fetch this call waited for failed: share its error
            if reject is None:
                stored = await self._load(key)
                if stored is not None:
                    # The store only knows the token is valid now; look again after a margin.
                    self._remember(key, stored, self._clock() + self._margin)
                    return stored, False
            try:
                issued = await fetch()
            except DeliveryError as exc:
                flight.failure = exc
                if self._on_fetch is not None:
                    self._on_fetch(False)
                raise
            if self._on_fetch is not None:
                self._on_fetch(True)
            expires_at = self._clock() + self._lifetime(issued.expires_in)
            self._remember(key, issued.access_token, expires_at)
            await self._save(key, issued.access_token, expires_at)
            return issued.access_token, True

    @property
    def size(self) -> int:
        """How many tokens are held in memory."""
        return len(self._entries)

    def _lifetime(self, expires_in: float | None) -> timedelta:
        full = self._default_lifetime if expires_in is None else timedelta(seconds=expires_in)
        if full > 2 * self._margin:
            return full - self._margin
        return full / 2

    def _fresh(self, key: str) -> Secret | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        token, expires_at = entry
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return token

    def _remember(self, key: str, token: Secret, expires_at: datetime) -> None:
        self._entries[key] = (token, expires_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _drop(self, key: str, token: Secret) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] == token:
            del self._entries[key]

    @asynccontextmanager
    async def _single_flight(self, key: str) -> AsyncIterator[_Flight]:
        """Serialise fetches per key. The flight lives while anyone waits for it, so a
        failure is seen by the calls that were waiting, not by later ones."""
        flight = self._flights.setdefault(key, _Flight())
        flight.users += 1
        try:
            async with flight.lock:
                yield flight
        finally:
            flight.users -= 1
            if flight.users == 0:
                del self._flights[key]

    async def _load(self, key: str) -> Secret | None:
        if self._store is None:
            return None
        try:
            return await self._store.get_token(key, now=self._clock())
        except StorageError as exc:
            logger.warning("token store lookup failed, fetching a new token: %s", exc)
            return None

    async def _save(self, key: str, token: Secret, expires_at: datetime) -> None:
        if self._store is None:
            return
        try:
            await self._store.put_token(key, token, expires_at=expires_at)
        except StorageError as exc:
            logger.warning("token store update failed, token kept in memory only: %s", exc)
