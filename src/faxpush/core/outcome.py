"""Classify one push attempt: delivered, retry later, or failed for good.

The table (also in the README):

=====================================  ==========  ===================================
what happened                          verdict     why
=====================================  ==========  ===================================
2xx                                    delivered   the receiver has the report
3xx                                    failed      redirects are never followed
408, 429                               retry       the receiver asks us to come back
5xx (and any status >= 600)            retry       the receiver failed, not the request
401/403 and other 4xx                  failed      the request is wrong; retrying repeats it
other 4xx with retry_client_errors     retry       per-account switch for flaky receivers
timeout, connect error, protocol error retry       transient network trouble
token endpoint down (5xx, timeout)     retry       the push itself was never tried
auth failure (2nd 401, invalid_client) failed      credentials must be fixed first
refused address                        failed      the URL points at a forbidden network
TLS: certificate or handshake refused  failed      expired, wrong host, unknown CA, client
                                                   certificate required: fix it first
invalid URL                            failed      not absolute http(s), or has user info
=====================================  ==========  ===================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


class ErrorClass(StrEnum):
    """Why an attempt got no usable HTTP answer."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    PROTOCOL = "protocol"
    TOKEN_ENDPOINT = "token_endpoint"  # noqa: S105 - an error class name, not a secret
    AUTH = "auth"
    REFUSED_ADDRESS = "refused_address"
    INVALID_URL = "invalid_url"
    TLS = "tls"
    INTERNAL = "internal"


_RETRYABLE_ERRORS = frozenset(
    {
        ErrorClass.TIMEOUT,
        ErrorClass.CONNECT,
        ErrorClass.PROTOCOL,
        ErrorClass.TOKEN_ENDPOINT,
        ErrorClass.INTERNAL,
    }
)


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reason: str


def classify(
    *, http_status: int | None, error_class: str | None, retry_client_errors: bool = False
) -> Outcome:
    """Decide what an attempt means. ``error_class`` wins over ``http_status`` when set."""
    if error_class is not None:
        try:
            kind = ErrorClass(error_class)
        except ValueError:
            return Outcome(Verdict.RETRY, f"unexpected error class {error_class!r}")
        if kind in _RETRYABLE_ERRORS:
            return Outcome(Verdict.RETRY, kind.value.replace("_", " "))
        return Outcome(Verdict.FAILED, kind.value.replace("_", " "))
    if http_status is None:
        return Outcome(Verdict.RETRY, "no response")
    if 200 <= http_status < 300:
        return Outcome(Verdict.DELIVERED, f"HTTP {http_status}")
    if 300 <= http_status < 400:
        return Outcome(Verdict.FAILED, f"HTTP {http_status}: redirects are not followed")
    if http_status in (408, 429):
        return Outcome(Verdict.RETRY, f"HTTP {http_status}")
    if 400 <= http_status < 500:
        if retry_client_errors:
            return Outcome(Verdict.RETRY, f"HTTP {http_status} (client errors retried)")
        return Outcome(Verdict.FAILED, f"HTTP {http_status}: the receiver rejected the push")
    if http_status >= 500:
        return Outcome(Verdict.RETRY, f"HTTP {http_status}")
    return Outcome(Verdict.RETRY, f"HTTP {http_status}: unexpected informational status")
