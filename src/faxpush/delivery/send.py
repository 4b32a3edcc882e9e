"""One push attempt over HTTP: :func:`send_push` sends, never raises, and reports.

``error_class`` is set whenever the attempt did not end in a clean HTTP answer (it wins
over ``http_status`` in :func:`faxpush.core.outcome.classify`):

=================  ======================================================================
timeout            no connection, or no complete answer, within the connect/read/total
                   limits (``http_status`` is kept when only the body was late)
connect            DNS failure, connection refused or reset, connection lost
tls                a certificate not accepted (expired, wrong host, unknown CA), a client
                   certificate required or refused, a TLS handshake refused (permanent)
protocol           the answer is not valid HTTP, or its auth challenge is malformed
token_endpoint     the OAuth2 token endpoint is down, slow or answered unusably
auth               credentials missing, unsendable or rejected (second 401, invalid_client)
refused_address    the push or token URL resolves to a network that is not allowed
invalid_url        the push or token URL is not an absolute http(s) URL without user info
=================  ======================================================================
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

import aiohttp
from aiohttp.http_exceptions import ContentLengthError
from multidict import CIMultiDictProxy
from yarl import URL

from faxpush.core.errors import (
    AddressRefusedError,
    AuthenticationFailedError,
    ConfigurationError,
)
from faxpush.core.targets import PushTarget
from faxpush.core.urls import check_http_url, display_url
from faxpush.delivery.auth import AuthTrace, build_auth_middleware
from faxpush.delivery.auth.basic import BasicAuthMiddleware
from faxpush.delivery.auth.digest import DigestNonceCache
from faxpush.delivery.auth.oauth2 import TokenEndpointError
from faxpush.delivery.auth.token_cache import TokenCache
from faxpush.delivery.deadlines import Deadlines, ReceiverSilentError
from faxpush.delivery.guard import BlockedAddressError
from faxpush.delivery.http import DELIVERY_ID_HEADER, Timeouts, read_capped, tls_contexts
from faxpush.delivery.tls import TlsError, TlsMaterialError, reset_hint, tls_failure
from faxpush.storage.base import RESPONSE_BODY_LIMIT


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one attempt produced; ``error_message`` is None only for a clean 2xx."""

    http_status: int | None
    error_class: str | None
    error_message: str | None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: bytes = b""  # at most RESPONSE_BODY_LIMIT bytes
    response_truncated: bool = False
    duration_ms: float = 0.0
    auth_steps: tuple[str, ...] = ()
    retry_after: str | None = None  # the raw Retry-After header, if any


@dataclass(slots=True)
class _Answer:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: str | None = None
    body: bytes = b""


async def send_push(
    session: aiohttp.ClientSession,
    *,
    url: str,
    body: bytes,
    content_type: str,
    delivery_id: str,
    target: PushTarget,
    token_cache: TokenCache,
    timeouts: Timeouts,
    digest_cache: DigestNonceCache | None = None,
    deadlines: Deadlines | None = None,
    account: str | None = None,
) -> SendResult:
    """POST ``body`` to ``url`` once, authenticated as ``target`` says, and report.

    Every request of the attempt (digest and token retries included) carries
    ``Faxpush-Delivery-Id: <delivery_id>``; redirects are reported, never followed. Pass
    the same ``digest_cache`` to every call so digest nonces are reused across pushes
    (None: every digest push starts with a fresh challenge), and the same ``deadlines`` so
    that one timer keeps every attempt's time limits (None: a timer for this attempt).
    ``account`` is the push's customer number: OAuth2 tokens are never shared between accounts.
    Never raises for network, HTTP or credential problems; cancellation propagates.
    """
    started = time.perf_counter()
    trace = AuthTrace()
    answer = _Answer()
    error_class: str | None = None
    message: str | None = None
    try:
        check_http_url(url)
        ssl_context = tls_contexts(session).for_target(target)
        middleware = build_auth_middleware(
            target,
            session=session,
            trace=trace,
            token_cache=token_cache,
            digest_cache=digest_cache,
            timeouts=timeouts,
            account=account,
            ssl_context=ssl_context,
        )
        headers = {aiohttp.hdrs.CONTENT_TYPE: content_type, DELIVERY_ID_HEADER: delivery_id}
        basic = middleware if isinstance(middleware, BasicAuthMiddleware) else None
        deadlines = Deadlines() if deadlines is None else deadlines
        with deadlines.watch(timeouts.total) as watch:
            before_read = None
            if basic is not None or middleware is None:
                # One request: no middleware needed, and the watch keeps the silence limit too.
                middlewares: tuple[aiohttp.ClientMiddlewareType, ...] = ()
                if basic is not None:
                    basic.authorize(headers)
                before_read = partial(watch.silence, timeouts.read)
                before_read()
            else:
                # Auth may take several requests (challenge, token): the watch bounds them
                # all together, aiohttp the silence within each.
                middlewares = (middleware,)
            response = await session.post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                middlewares=middlewares,
                timeout=timeouts.watched_timeout(read=before_read is None),
                ssl=ssl_context,
            )
            answer.status = response.status
            answer.headers = _flatten(response.headers)
            answer.retry_after = response.headers.get(aiohttp.hdrs.RETRY_AFTER)
            answer.body = await read_capped(response, before_read=before_read)
            if basic is not None:
                basic.check(answer.status)
    except TimeoutError as exc:
        error_class, message = _timeout(exc, trace, timeouts, answer)
    except aiohttp.ClientError as exc:
        has_client_cert = target.client_cert is not None
        error_class, message = _client_error(exc, url, has_client_cert=has_client_cert)
        message += reset_hint(exc, url, has_client_cert=has_client_cert)
    except (TlsError, TlsMaterialError) as exc:
        error_class, message = "tls", str(exc)
    except AddressRefusedError as exc:
        error_class, message = "refused_address", str(exc)
    except TokenEndpointError as exc:
        error_class, message = "token_endpoint", str(exc)
    except AuthenticationFailedError as exc:
        error_class, message = "auth", str(exc)
    except ConfigurationError as exc:
        error_class, message = "invalid_url", str(exc)
    if error_class is None and answer.status is not None:
        error_class, message = _judge_status(answer, trace, url)
    return SendResult(
        http_status=answer.status,
        error_class=error_class,
        error_message=message,
        response_headers=answer.headers,
        response_body=answer.body[:RESPONSE_BODY_LIMIT],
        response_truncated=len(answer.body) > RESPONSE_BODY_LIMIT,
        duration_ms=(time.perf_counter() - started) * 1000,
        auth_steps=tuple(trace.steps),
        retry_after=answer.retry_after,
    )


def _flatten(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    """One entry per header name (first spelling seen); repeated values joined by ", "."""
    flat: dict[str, str] = {}
    first_spelling: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        seen = first_spelling.get(lower)
        if seen is None:
            first_spelling[lower] = name
            flat[name] = value
        else:
            flat[seen] = f"{flat[seen]}, {value}"
    return flat


def _judge_status(answer: _Answer, trace: AuthTrace, url: str) -> tuple[str | None, str | None]:
    status = answer.status
    assert status is not None
    if trace.rejection is not None:
        return trace.rejection_class, trace.rejection
    if 200 <= status < 300:
        return None, None
    if 300 <= status < 400:
        return None, (
            f"receiver redirected (HTTP {status}) to {_location(answer, url)}; redirects "
            "are not followed, update the push URL"
        )
    return None, f"receiver answered HTTP {status}"


def _location(answer: _Answer, url: str) -> str:
    location = next((v for k, v in answer.headers.items() if k.lower() == "location"), None)
    if location is None:
        return "nowhere (no Location header)"
    try:
        return display_url(str(URL(url).join(URL(location))))
    except (ValueError, TypeError):
        return "an invalid Location"


def _timeout(
    exc: TimeoutError, trace: AuthTrace, timeouts: Timeouts, answer: _Answer
) -> tuple[str, str]:
    if trace.phase == "token":
        return "token_endpoint", (
            f"the OAuth2 token endpoint did not answer within the {timeouts.total:g} s deadline"
        )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "timeout", f"no connection within {timeouts.connect:g} s"
    if isinstance(exc, aiohttp.SocketTimeoutError | ReceiverSilentError):
        return "timeout", f"the receiver sent nothing for {timeouts.read:g} s"
    if answer.status is not None:
        return "timeout", (
            f"the response body (HTTP {answer.status}) did not arrive within the "
            f"{timeouts.total:g} s deadline"
        )
    return "timeout", f"no answer within the {timeouts.total:g} s deadline"


def _client_error(exc: aiohttp.ClientError, url: str, *, has_client_cert: bool) -> tuple[str, str]:
    tls_problem = tls_failure(exc, _host(url), has_client_cert=has_client_cert)
    if tls_problem is not None:
        return "tls", tls_problem
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, BlockedAddressError):
            return "refused_address", str(exc.os_error.to_error(exc.host))
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            return "connect", f"cannot resolve {exc.host!r}: {exc.os_error.strerror or exc}"
        return "connect", f"cannot connect to {display_url(url)}: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid_url", f"the push URL {display_url(url)} is not valid"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientPayloadError) and isinstance(
        exc.__cause__, ContentLengthError
    ):  # the connection ended before the body did: lost, not an invalid answer
        return "connect", f"connection to {display_url(url)} lost during the answer: {detail}"
    if isinstance(exc, aiohttp.ClientConnectionError):
        return "connect", f"connection to {display_url(url)} failed: {detail}"
    return "protocol", f"invalid answer from {display_url(url)}: {detail}"


def _host(url: str) -> str | None:
    try:
        return URL(url).host
    except (ValueError, TypeError):
        return None
