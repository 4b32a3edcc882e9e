"""OAuth2 client credentials (RFC 6749 §4.4) for pushes: token request and middleware.

Token endpoint outcomes map onto the error tree: no answer, 5xx, an unusable response or
anything unexpected is a :class:`TokenEndpointError` (retryable); a rejection of the
client credentials (``invalid_client``, ``invalid_grant``, ``unauthorized_client``, or a
plain 401/403) is :class:`AuthenticationFailedError`.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
from collections.abc import Awaitable
from urllib.parse import quote_plus, urlencode

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, hdrs
from yarl import URL

from faxpush.core.errors import AuthenticationFailedError, RetryableDeliveryError
from faxpush.core.secrets import Secret
from faxpush.core.targets import ClientAuthStyle
from faxpush.core.urls import display_url
from faxpush.delivery.auth.token_cache import IssuedToken, TokenCache
from faxpush.delivery.auth.trace import AuthTrace
from faxpush.delivery.guard import BlockedAddressError
from faxpush.delivery.http import Timeouts, read_capped
from faxpush.delivery.tls import TlsError, presents_client_cert, tls_failure

TOKEN_RESPONSE_LIMIT = 64 * 1024
_CREDENTIAL_ERRORS = frozenset({"invalid_client", "invalid_grant", "unauthorized_client"})
_MAX_EXPIRES_IN = 10 * 365 * 86400.0
_TOKEN_SYNTAX = re.compile(r"[\x21-\x7e]+")


class TokenEndpointError(RetryableDeliveryError):
    """The OAuth2 token endpoint could not issue a token; the push will be retried."""


def client_basic_authorization(client_id: str, client_secret: str) -> str:
    """``client_secret_basic``: id and secret form-encoded *before* base64 (RFC 6749 §2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")


async def request_token(
    session: aiohttp.ClientSession,
    *,
    token_url: str,
    client_id: str,
    client_secret: Secret,
    client_auth: ClientAuthStyle,
    timeouts: Timeouts,
    ssl_context: ssl.SSLContext | None = None,
) -> IssuedToken:
    """POST ``grant_type=client_credentials`` to ``token_url`` and validate the answer.

    ``ssl_context`` is the push's (the account's trust and client certificate); a
    certificate failure is a :class:`~faxpush.delivery.tls.TlsError`, not retried."""
    form = {"grant_type": "client_credentials"}
    headers = {"Accept": "application/json"}
    if client_auth is ClientAuthStyle.CLIENT_SECRET_BASIC:
        headers[hdrs.AUTHORIZATION] = client_basic_authorization(client_id, client_secret.reveal())
    else:
        form |= {"client_id": client_id, "client_secret": client_secret.reveal()}
    shown = display_url(token_url)
    try:
        response = await session.post(
            token_url,
            data=urlencode(form).encode("ascii"),
            headers=headers | {hdrs.CONTENT_TYPE: "application/x-www-form-urlencoded"},
            allow_redirects=False,
            middlewares=(),
            timeout=timeouts.client_timeout(),
            ssl=True if ssl_context is None else ssl_context,
        )
        status = response.status
        body = await read_capped(response, TOKEN_RESPONSE_LIMIT + 1)
    except aiohttp.ClientConnectorError as exc:
        _raise_if_tls(exc, token_url, ssl_context)
        if isinstance(exc.os_error, BlockedAddressError):
            raise exc.os_error.to_error(exc.host) from None
        raise TokenEndpointError(f"cannot reach the token endpoint {shown}: {exc}") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        _raise_if_tls(exc, token_url, ssl_context)
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = "no answer in time"
        raise TokenEndpointError(f"token request to {shown} failed: {reason}") from exc
    return _interpret(status, body, shown)


def _raise_if_tls(exc: BaseException, token_url: str, ssl_context: ssl.SSLContext | None) -> None:
    host = URL(token_url).host
    problem = tls_failure(exc, host, has_client_cert=presents_client_cert(ssl_context))
    if problem is not None:
        raise TlsError(f"OAuth2 token endpoint: {problem}") from exc


def _interpret(status: int, body: bytes, shown: str) -> IssuedToken:
    if len(body) > TOKEN_RESPONSE_LIMIT:
        raise TokenEndpointError(
            f"token endpoint {shown} sent more than {TOKEN_RESPONSE_LIMIT} bytes (HTTP {status})"
        )
    document = _json_object(body)
    if status in (400, 401, 403):
        error = str(document.get("error", "")) if document else ""
        if status != 400 or error in _CREDENTIAL_ERRORS:
            description = str(document.get("error_description", ""))[:200] if document else ""
            detail = ": ".join(p for p in (error, description) if p) or f"HTTP {status}"
            raise AuthenticationFailedError(
                f"token endpoint {shown} rejected the client credentials ({detail}); "
                "check the OAuth2 client id, secret and client authentication style"
            )
    if status != 200:
        raise TokenEndpointError(f"token endpoint {shown} answered HTTP {status}")
    if document is None:
        raise TokenEndpointError(f"token endpoint {shown} did not answer with a JSON object")
    return _token_from(document, shown)


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        document = json.loads(body)
    except ValueError:  # also covers UnicodeDecodeError
        return None
    return document if isinstance(document, dict) else None


def _token_from(document: dict[str, object], shown: str) -> IssuedToken:
    token = document.get("access_token")
    if not isinstance(token, str) or not _TOKEN_SYNTAX.fullmatch(token):
        raise TokenEndpointError(f"token endpoint {shown} sent no usable access_token")
    token_type = document.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise AuthenticationFailedError(
            f"token endpoint {shown} issued a {token_type!r} token; only Bearer tokens are "
            "supported"
        )
    expires_in = document.get("expires_in")
    if expires_in is None:
        return IssuedToken(Secret(token), None)
    seconds = _seconds(expires_in)
    if seconds is None:
        raise TokenEndpointError(f"token endpoint {shown} sent an invalid expires_in")
    return IssuedToken(Secret(token), seconds)


def _seconds(value: object) -> float | None:
    """``expires_in`` as seconds; JSON numbers and numeric strings are accepted."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < _MAX_EXPIRES_IN else None


class OAuth2Middleware:
    """Sends ``Authorization: Bearer`` with a cached token; one refetch after a 401.

    ``account`` (the push's customer number, None when it has none) is part of the cache key:
    tokens are never shared between accounts, see :mod:`~faxpush.delivery.auth.token_cache`.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        client_auth: ClientAuthStyle,
        account: str | None,
        cache: TokenCache,
        trace: AuthTrace,
        timeouts: Timeouts,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._session = session
        self._ssl_context = ssl_context
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._client_auth = client_auth
        self._cache = cache
        self._key = cache.cache_key(
            token_url=token_url, client_id=client_id, client_secret=client_secret, account=account
        )
        self._trace = trace
        self._timeouts = timeouts

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Send the request with a bearer token, renewing the token once if refused."""
        token = await self._token(reject=None)
        request.headers[hdrs.AUTHORIZATION] = f"Bearer {token.reveal()}"
        response = await handler(request)
        if response.status != 401:
            return response
        await read_capped(response)
        token = await self._token(reject=token)
        request.headers[hdrs.AUTHORIZATION] = f"Bearer {token.reveal()}"
        response = await handler(request)
        if response.status == 401:
            self._trace.reject(
                "receiver rejected a newly issued OAuth2 token (401); check that the token "
                "endpoint and the receiver belong together"
            )
        return response

    async def _token(self, *, reject: Secret | None) -> Secret:
        def fetch() -> Awaitable[IssuedToken]:
            return request_token(
                self._session,
                token_url=self._token_url,
                client_id=self._client_id,
                client_secret=self._client_secret,
                client_auth=self._client_auth,
                timeouts=self._timeouts,
                ssl_context=self._ssl_context,
            )

        # Left at "token" when obtaining fails, so a deadline hit here is blamed correctly.
        self._trace.phase = "token"
        token, fetched = await self._cache.obtain(self._key, fetch, reject=reject)
        self._trace.phase = "request"
        if reject is None:
            self._trace.step("oauth2 token fetched" if fetched else "oauth2 token cached")
        else:
            self._trace.step("oauth2 refetch after 401" if fetched else "oauth2 token renewed")
        return token
