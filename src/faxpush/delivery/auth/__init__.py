"""Push authentication as aiohttp client middlewares, one instance per push.

* NONE: no middleware.
* HTTP_BASIC: :class:`~faxpush.delivery.auth.basic.BasicAuthMiddleware`, pre-emptive.
* HTTP_DIGEST: :class:`~faxpush.delivery.auth.digest.DigestAuthMiddleware`, reusing nonces
  across pushes through a shared :class:`~faxpush.delivery.auth.digest.DigestNonceCache`.
* OAUTH2: :class:`~faxpush.delivery.auth.oauth2.OAuth2Middleware`, client credentials with
  a shared :class:`~faxpush.delivery.auth.token_cache.TokenCache`.

Each middleware writes what it did into an :class:`AuthTrace` that becomes part of the
attempt record. Credentials the receiver rejects are reported through the trace (the 401
response is kept); token endpoint failures are raised as faxpush delivery errors.
"""

from __future__ import annotations

import ssl

import aiohttp
from aiohttp import ClientMiddlewareType

from faxpush.core.errors import AuthenticationFailedError
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import PushTarget
from faxpush.core.urls import check_http_url
from faxpush.delivery.auth.basic import BasicAuthMiddleware
from faxpush.delivery.auth.digest import DigestAuthMiddleware, DigestNonceCache
from faxpush.delivery.auth.oauth2 import OAuth2Middleware
from faxpush.delivery.auth.token_cache import TokenCache
from faxpush.delivery.auth.trace import AuthTrace
from faxpush.delivery.http import Timeouts

__all__ = [
    "AuthTrace",
    "DigestNonceCache",
    "TokenCache",
    "build_auth_middleware",
]


def build_auth_middleware(
    target: PushTarget,
    *,
    session: aiohttp.ClientSession,
    trace: AuthTrace,
    token_cache: TokenCache,
    digest_cache: DigestNonceCache | None,
    timeouts: Timeouts,
    account: str | None,
    ssl_context: ssl.SSLContext | None = None,
) -> ClientMiddlewareType | None:
    """The middleware that authenticates one push to ``target`` (None for NONE).

    ``account`` is the push's customer number (None: it has none); OAuth2 tokens are cached
    per account.

    Raises :class:`AuthenticationFailedError` when the target lacks what its method needs
    and :class:`~faxpush.core.errors.ConfigurationError` for an unusable token URL.
    ``ssl_context`` (the push's) is used for the OAuth2 token request too.
    """
    method = target.auth_method
    if method is AuthMethod.NONE:
        return None
    principal, secret = _credentials(target)
    if method is AuthMethod.HTTP_BASIC:
        return BasicAuthMiddleware(principal, secret, trace=trace)
    if method is AuthMethod.HTTP_DIGEST:
        return DigestAuthMiddleware(principal, secret, nonces=digest_cache, trace=trace)
    if not target.token_url:
        raise AuthenticationFailedError(
            "OAUTH2 push has no token URL; configure the account's OAuth2 token URL"
        )
    check_http_url(target.token_url, role="OAuth2 token URL")
    return OAuth2Middleware(
        session=session,
        token_url=target.token_url,
        client_id=principal,
        client_secret=secret,
        client_auth=target.client_auth,
        account=account,
        cache=token_cache,
        trace=trace,
        timeouts=timeouts,
        ssl_context=ssl_context,
    )


def _credentials(target: PushTarget) -> tuple[str, Secret]:
    if not target.principal or target.credentials is None:
        raise AuthenticationFailedError(
            f"{target.auth_method.value} push has no principal or no credentials; "
            "set both in httpStatusPush or in the account's push settings"
        )
    return target.principal, target.credentials
