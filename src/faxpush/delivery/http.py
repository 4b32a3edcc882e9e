"""The outbound HTTP client: one shared, guarded aiohttp session for every push.

The session follows no redirects (every request passes ``allow_redirects=False``), keeps no
cookies between customers, ignores proxy and netrc settings from the environment, asks for
uncompressed responses and identifies itself as ``faxpush/<version>``. Its connector bounds
concurrency globally and per host, connects only to addresses the :mod:`guard` allows, and
verifies TLS certificates with the contexts of :mod:`faxpush.delivery.tls`
(:func:`tls_contexts` gives a request the context of its push's account).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver

from faxpush._version import __version__
from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import Settings
from faxpush.delivery.guard import (
    AddressGuard,
    GuardedResolver,
    IPNetwork,
    guarded_socket_factory,
)
from faxpush.delivery.tls import TlsContexts
from faxpush.storage.base import RESPONSE_BODY_LIMIT

USER_AGENT = f"faxpush/{__version__}"
DELIVERY_ID_HEADER = "Faxpush-Delivery-Id"
# Read one byte past the limit so a truncated body can be told from one that fits exactly.
BODY_READ_LIMIT = RESPONSE_BODY_LIMIT + 1


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt time limits in seconds.

    ``connect``: TCP (and TLS) connection set-up; ``read``: the longest silence while
    waiting for response bytes; ``total``: the deadline for the whole attempt, including
    digest round trips and an OAuth2 token request.
    """

    connect: float = 5.0
    read: float = 10.0
    total: float = 15.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"timeout {name!r} must be a positive number of seconds")

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        """The limits configured as connect_timeout, read_timeout and attempt_deadline."""
        return cls(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            total=settings.attempt_deadline,
        )

    def client_timeout(self) -> aiohttp.ClientTimeout:
        """aiohttp timeouts for one request (its ``total`` is the attempt deadline)."""
        return _client_timeout(self.connect, self.read, self.total)

    def watched_timeout(self, *, read: bool) -> aiohttp.ClientTimeout:
        """aiohttp timeouts for a request whose total (and, unless ``read``, silence) limit
        a :class:`~faxpush.delivery.deadlines.Watch` keeps: connect, and read if asked."""
        return _client_timeout(self.connect, self.read if read else None, None)


@lru_cache(maxsize=64)  # built once per configuration, not once per push
def _client_timeout(
    connect: float, read: float | None, total: float | None
) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)


class PushConnector(aiohttp.TCPConnector):
    """A TCP connector that also holds the TLS contexts of the pushes it connects."""

    def __init__(self, *, tls: TlsContexts, **options: Any) -> None:
        super().__init__(ssl=tls.default, **options)
        self.tls = tls


@lru_cache(maxsize=1)
def _plain_contexts() -> TlsContexts:
    return TlsContexts()


def tls_contexts(session: aiohttp.ClientSession) -> TlsContexts:
    """The TLS contexts of ``session`` (system trust only for a session built elsewhere)."""
    connector = session.connector
    return connector.tls if isinstance(connector, PushConnector) else _plain_contexts()


def build_session(
    *,
    limit: int = 100,
    limit_per_host: int = 10,
    timeouts: Timeouts | None = None,
    allowed_networks: Iterable[IPNetwork] = (),
    resolver: AbstractResolver | None = None,
    tls: TlsContexts | None = None,
) -> aiohttp.ClientSession:
    """Create the shared push session; call it from a coroutine and close it on shutdown.

    ``limit`` bounds open connections overall, ``limit_per_host`` per receiver host.
    ``allowed_networks`` (FAXPUSH_ALLOWED_NETWORKS) opens otherwise refused networks.
    ``resolver`` replaces the system resolver (tests pass a fake one); its answers are
    still filtered by the address guard. ``tls`` (default: the system's trust only) holds
    the SSL contexts; FAXPUSH_CA_BUNDLE goes there.
    """
    if limit < 1 or limit_per_host < 0:
        raise ConfigurationError("connection limits must be positive (limit_per_host 0: none)")
    guard = AddressGuard(allowed_networks)
    connector = PushConnector(
        tls=tls or _plain_contexts(),
        limit=limit,
        limit_per_host=limit_per_host,
        resolver=GuardedResolver(resolver or aiohttp.ThreadedResolver(), guard),
        socket_factory=guarded_socket_factory(guard),
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        skip_auto_headers=("Accept-Encoding",),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=(timeouts or Timeouts()).client_timeout(),
        trust_env=False,
        raise_for_status=False,
    )


def session_from_settings(
    settings: Settings, *, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    """:func:`build_session` with the limits, timeouts and allow-list of ``settings``."""
    return build_session(
        limit=settings.concurrency,
        limit_per_host=settings.per_host_concurrency,
        timeouts=Timeouts.from_settings(settings),
        allowed_networks=settings.allowed_networks,
        resolver=resolver,
        tls=TlsContexts(settings.ca_bundle),
    )


async def read_capped(
    response: aiohttp.ClientResponse,
    limit: int = BODY_READ_LIMIT,
    *,
    before_read: Callable[[], object] | None = None,
) -> bytes:
    """Read at most ``limit`` bytes of the body, then release or drop the connection.

    A body that was not read to its end closes the connection instead of draining it, so a
    receiver sending an endless body costs nothing. ``before_read`` is called before each
    wait for more bytes (to restart a silence limit).
    """
    content = response.content
    if content.is_eof():  # the whole body is here already (the usual short answer)
        body = content.read_nowait(limit)
        _finish(response)
        return body
    chunks: list[bytes] = []
    remaining = limit
    try:
        while remaining > 0:
            if before_read is not None:
                before_read()
            chunk = await content.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
            if content.at_eof():
                break  # saves one more read just to learn the body has ended
    finally:
        _finish(response)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _finish(response: aiohttp.ClientResponse) -> None:
    if response.content.at_eof():
        response.release()
    else:
        response.close()
