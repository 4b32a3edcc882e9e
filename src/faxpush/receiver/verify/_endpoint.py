"""What the verifiers that consult the token issuer (a JWKS URL, an introspection endpoint)
share: one HTTP session (the caller's, or their own), a timeout, a size cap, no redirects, and
every failure a :class:`~faxpush.receiver.errors.VerifierUnavailableError` (503: the sender
retries later) rather than a rejection of the push.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp

from faxpush.core.errors import ConfigurationError
from faxpush.receiver.errors import VerifierUnavailableError


class JsonEndpoint:
    """An http(s) URL answering JSON; ``name`` says what it is in error messages."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        max_bytes: int,
        timeout: float,
        session: aiohttp.ClientSession | None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"the {name} {url!r} must be an http(s) URL")
        self.url = url
        self.name = name
        self._max_bytes = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None

    async def request(
        self, method: str, *, data: str | None = None, headers: Mapping[str, str] | None = None
    ) -> object:
        """The decoded JSON of a 200 answer; None when its body is not JSON."""
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        try:
            async with self._session.request(
                method,
                self.url,
                data=data,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                body = await response.content.read(self._max_bytes + 1)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VerifierUnavailableError(
                f"cannot reach the {self.name} {self.url}: {type(exc).__name__}"
            ) from None
        if status != 200 or len(body) > self._max_bytes:
            size = "too large" if len(body) > self._max_bytes else f"{len(body)} bytes"
            raise VerifierUnavailableError(
                f"the {self.name} {self.url} answered HTTP {status} ({size})"
            )
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            return None

    async def aclose(self) -> None:
        """Close the session this endpoint opened."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
