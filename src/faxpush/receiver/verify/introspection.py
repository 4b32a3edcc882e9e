"""Opaque access tokens checked at an RFC 7662 token introspection endpoint, with caching.

The receiver authenticates to the endpoint with ``client_secret_basic``. Answers are cached
by a SHA-256 of the token (the token itself is not kept): an active token until the earlier
of its ``exp`` and ``cache_ttl``, an inactive one for ``negative_ttl``. The cache is bounded.
An unreachable or broken endpoint is :class:`~faxpush.receiver.errors.VerifierUnavailableError`
(503), never a silent acceptance.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote_plus, urlencode

import aiohttp

from faxpush.core.secrets import Secret
from faxpush.receiver.errors import VerifierUnavailableError
from faxpush.receiver.verify._endpoint import JsonEndpoint
from faxpush.receiver.verify.bearer import InvalidTokenError

MAX_RESPONSE_BYTES: Final = 64 * 1024


class IntrospectionValidator:
    """Asks ``url`` whether a token is active, as client ``client_id``."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        client_secret: Secret,
        issuer: str | None = None,
        audience: str | None = None,
        cache_ttl: float = 60.0,
        negative_ttl: float = 10.0,
        max_cached: int = 10_000,
        timeout: float = 5.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._endpoint = JsonEndpoint(
            url,
            name="introspection endpoint",
            max_bytes=MAX_RESPONSE_BYTES,
            timeout=timeout,
            session=session,
        )
        self.url = url
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret.reveal())}"
        self._authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        self.issuer = issuer
        self.audience = audience
        self._ttl = cache_ttl
        self._negative_ttl = negative_ttl
        self._max = max_cached
        self._cache: OrderedDict[bytes, tuple[float, str | None, str | None]] = OrderedDict()
        self._clock = clock
        self.requests = 0

    async def validate(self, token: str) -> str | None:
        """The token's client id (or subject) when the endpoint says it is active."""
        key = hashlib.sha256(token.encode("utf-8")).digest()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(key)
            _until, principal, problem = cached
        else:
            principal, problem, until = self._judge(await self._ask(token), now)
            self._cache[key] = (until, principal, problem)
            self._cache.move_to_end(key)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        if problem is not None:
            raise InvalidTokenError(problem)
        return principal

    def _judge(self, answer: Mapping[str, Any], now: float) -> tuple[str | None, str | None, float]:
        """(principal, problem, cache until) for an introspection answer."""
        if answer.get("active") is not True:
            return None, "not active", now + self._negative_ttl
        exp = answer.get("exp")
        until = now + self._ttl
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            if exp <= now:
                return None, "expired", now + self._negative_ttl
            until = min(until, float(exp))
        if self.issuer is not None and answer.get("iss") != self.issuer:
            return None, "wrong issuer", now + self._negative_ttl
        if self.audience is not None and not _has_audience(answer.get("aud"), self.audience):
            return None, "wrong audience", now + self._negative_ttl
        for claim in ("client_id", "sub"):
            value = answer.get(claim)
            if isinstance(value, str):
                return value, None, until
        return None, None, until

    async def _ask(self, token: str) -> Mapping[str, Any]:
        form = urlencode({"token": token, "token_type_hint": "access_token"})
        headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        self.requests += 1
        answer = await self._endpoint.request("POST", data=form, headers=headers)
        if not isinstance(answer, dict):
            raise VerifierUnavailableError(
                f"the introspection endpoint {self.url} did not answer a JSON object"
            )
        return answer

    async def aclose(self) -> None:
        """Close the session this validator opened."""
        await self._endpoint.aclose()


def _has_audience(value: object, audience: str) -> bool:
    if isinstance(value, str):
        return value == audience
    return isinstance(value, list) and audience in value


__all__ = ["IntrospectionValidator"]
