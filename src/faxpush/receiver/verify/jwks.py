"""Where JWT signing keys come from: a fixed JWKS, or a JWKS URL fetched and cached.

:class:`RemoteJwks` fetches the key set with a timeout and a size cap, keeps it for
``cache_ttl`` and refetches early (at most once per ``min_refresh``) when a token names a key
id it does not know, which is how issuers roll keys over. A failed fetch is
:class:`~faxpush.receiver.errors.VerifierUnavailableError` (503: the sender retries), not a
rejection of the push.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import aiohttp
import jwt

from faxpush.core.errors import ConfigurationError
from faxpush.receiver.errors import VerifierUnavailableError
from faxpush.receiver.verify._endpoint import JsonEndpoint

MAX_JWKS_BYTES: Final = 256 * 1024
DEFAULT_CACHE_TTL: Final = 300.0
DEFAULT_MIN_REFRESH: Final = 30.0
DEFAULT_FETCH_TIMEOUT: Final = 5.0


class KeySource(Protocol):
    """Finds the public key a token's header names."""

    async def get_key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key with id ``kid`` (the only key when ``kid`` is None and there is one)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _usable_keys(document: Any) -> dict[str | None, jwt.PyJWK] | None:
    """Signature keys of a JWKS document by key id (unusable entries are skipped); None
    when the document is not a JWKS at all."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        return None
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") == "oct":
            continue  # shared secrets never verify pushes: only asymmetric keys
        try:
            key = jwt.PyJWK(dict(entry))
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
        keys[key.key_id] = key
    return keys


def _pick(keys: Mapping[str | None, jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
    if kid is not None:
        return keys.get(kid)
    return next(iter(keys.values())) if len(keys) == 1 else None


class StaticJwks:
    """A key set given up front (a JWKS document as a dict)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        keys = _usable_keys(document)
        if not keys:
            raise ConfigurationError(
                "the JWKS holds no usable signature key; give a JSON object with a 'keys' array"
            )
        self._keys = keys

    async def get_key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key named ``kid``."""
        return _pick(self._keys, kid)

    async def aclose(self) -> None:
        """Nothing to release."""


class RemoteJwks:
    """A JWKS URL, fetched on first use and cached."""

    def __init__(
        self,
        url: str,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        min_refresh: float = DEFAULT_MIN_REFRESH,
        timeout: float = DEFAULT_FETCH_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._endpoint = JsonEndpoint(
            url, name="JWKS URL", max_bytes=MAX_JWKS_BYTES, timeout=timeout, session=session
        )
        self.url = url
        self._ttl = cache_ttl
        self._min_refresh = min_refresh
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get_key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key named ``kid``, refetching when the cache is old or lacks it."""
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self._ttl:
            await self._refresh(force=True)
        key = _pick(self._keys, kid)
        if key is None and self._fetched_at is not None:
            await self._refresh(force=False)
            key = _pick(self._keys, kid)
        return key

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            now = self._clock()
            if self._fetched_at is not None:
                age = now - self._fetched_at
                if age < self._min_refresh or (force and age < self._ttl):
                    return  # another task refreshed meanwhile, or too soon to ask again
            self._keys = await self._fetch()
            self._fetched_at = self._clock()
            self.fetches += 1

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        keys = _usable_keys(await self._endpoint.request("GET"))
        if keys is None:
            raise VerifierUnavailableError(
                f"the JWKS at {self.url} is not a JSON object with a 'keys' array"
            )
        return keys

    async def aclose(self) -> None:
        """Close the session this source opened."""
        await self._endpoint.aclose()


__all__ = ["KeySource", "RemoteJwks", "StaticJwks"]
