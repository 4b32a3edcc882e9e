"""Rules shared by the storage backends, so that each applies them the same way.

Times are kept as integer microseconds since the Unix epoch (UTC): exact, and ordered the same
way as the instants they stand for.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from faxpush.core.errors import InputError
from faxpush.storage.base import (
    RESPONSE_BODY_LIMIT,
    Account,
    AttemptResult,
    NewPush,
    PushState,
    Verdict,
    receiver_key,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
CLAIM_ID_RANDOM_BYTES = 12
# Putting a token drops at most this many expired ones: a put adds at most one row, so a
# backlog (say, from before expired tokens were dropped) shrinks by the rest each time.
EXPIRED_TOKENS_PER_PUT = 100
VERDICT_STATE = {
    Verdict.DELIVERED: PushState.DELIVERED,
    Verdict.FAILED: PushState.FAILED,
    Verdict.RETRY: PushState.PENDING,
}


def to_micros(value: datetime, *, name: str = "timestamp") -> int:
    """``value`` as microseconds since the epoch; refuses naive datetimes."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name} {value.isoformat()} has no time zone; pass an aware UTC time")
    return (value - EPOCH) // _MICROSECOND


@lru_cache(maxsize=1024)  # a claimed batch shares its lease and update times
def from_micros(value: int) -> datetime:
    """The UTC datetime for microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=value)


def token_sweep_params(now: datetime | None) -> dict[str, int]:
    """The parameters of ``delete_expired_tokens``: tokens expired by ``now`` (default: the
    current time), at most :data:`EXPIRED_TOKENS_PER_PUT` of them."""
    now_us = to_micros(datetime.now(UTC) if now is None else now, name="now")
    return {"now": now_us, "limit": EXPIRED_TOKENS_PER_PUT}


def lease_micros(lease: timedelta) -> int:
    """A lease length in microseconds; it must be positive."""
    micros = lease // _MICROSECOND
    if micros <= 0:
        raise InputError(f"lease must be positive, got {lease}")
    return micros


def new_claim_id(worker_id: str) -> str:
    """A fresh fencing token; it names the worker so operators can see who holds a push."""
    return f"{worker_id}:{secrets.token_hex(CLAIM_ID_RANDOM_BYTES)}"


def truncate_body(body: bytes) -> bytes:
    """A response body cut to what the store keeps."""
    return body[:RESPONSE_BODY_LIMIT]


def check_results(results: Sequence[AttemptResult]) -> None:
    """Refuse a batch that cannot be applied as a whole (caller bugs, not runtime failures)."""
    for result in results:
        if result.attempt.delivery_id != result.delivery_id:
            raise InputError(
                f"attempt for delivery {result.attempt.delivery_id} was reported under "
                f"delivery {result.delivery_id}; report each attempt with its own push"
            )
        if result.verdict is Verdict.RETRY and result.next_attempt_at is None:
            raise InputError(
                f"delivery {result.delivery_id}: a RETRY verdict needs next_attempt_at"
            )
        to_micros(result.attempt.started_at, name="attempt started_at")
        if result.next_attempt_at is not None:
            to_micros(result.next_attempt_at, name="next_attempt_at")


def account_params(
    account: Account, sealed_credentials: bytes | None, sealed_client_key: bytes | None = None
) -> dict[str, Any]:
    """Parameters of every dialect's ``put_account`` (credentials and key already sealed)."""
    return {
        "customer_number": account.customer_number,
        "push_format": account.push_format.value,
        "push_template": account.push_template,
        "push_template_content_type": account.push_template_content_type,
        "push_url": account.push_url,
        "push_auth": account.push_auth.value,
        "push_principal": account.push_principal,
        "push_credentials": sealed_credentials,
        "oauth2_token_url": account.oauth2_token_url,
        "oauth2_client_auth": account.oauth2_client_auth.value,
        "retry_client_errors": account.retry_client_errors,
        "push_ca_pem": account.push_ca_pem,
        "push_client_cert": account.push_client_cert,
        "push_client_key": sealed_client_key,
    }


def push_params(
    push: NewPush,
    sealed_credentials: bytes | None,
    *,
    due: object,
    now: object,
    sealed_client_key: bytes | None = None,
) -> dict[str, Any]:
    """Parameters of every dialect's ``insert_push`` (credentials and client key already
    sealed; ``due`` and ``now`` in the dialect's time representation)."""
    target = push.target
    return {
        "delivery_id": push.delivery_id,
        "job_id": push.job_id,
        "customer_number": push.customer_number,
        "target_url": target.url,
        "receiver": receiver_key(target.url),
        "target_auth": target.auth_method.value,
        "target_principal": target.principal,
        "target_credentials": sealed_credentials,
        "target_token_url": target.token_url,
        "target_client_auth": target.client_auth.value,
        "content_type": push.content_type,
        "retry_client_errors": push.retry_client_errors,
        "max_attempts": push.max_attempts,
        "next_attempt_at": due,
        "now": now,
        "target_ca_pem": target.ca_pem,
        "target_client_cert": target.client_cert,
        "target_client_key": sealed_client_key,
    }


def check_page(limit: int, offset: int) -> None:
    """An InputError for a negative page size or offset (``Store.list_pushes``)."""
    if limit < 0 or offset < 0:
        raise InputError(f"limit and offset must not be negative (got {limit}, {offset})")


def unreadable_credentials(delivery_id: str, error: Exception) -> str:
    """Why a claimed push cannot be sent: its stored credentials cannot be opened (see
    :attr:`ClaimedPush.unreadable <faxpush.storage.base.ClaimedPush.unreadable>`)."""
    return (
        f"credentials cannot be decrypted with the configured secret key(s): {error}; "
        f"then redeliver the push (faxpush pushes redeliver {delivery_id})"
    )


def share_binds(limit: int, receiver_limit: int | None, held: Mapping[str, int] | None) -> bool:
    """Whether a claim of ``limit`` could take less with per-receiver shares than without
    (see ``Store.claim``). When not, the SQL stores run their claim without ranking."""
    if receiver_limit is None:
        return False
    return receiver_limit - max((held or {}).values(), default=0) < limit
