"""Conversions between storage records and PostgreSQL rows / query parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from asyncpg import Record

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.storage._common import (
    EXPIRED_TOKENS_PER_PUT,
    VERDICT_STATE,
    to_micros,
    truncate_body,
)
from faxpush.storage._common import account_params as common_account_params
from faxpush.storage._common import push_params as common_push_params
from faxpush.storage._rows_common import account_from_row as account_from_row
from faxpush.storage._rows_common import attempt_from_row as common_attempt_from_row
from faxpush.storage._rows_common import claims_in_order, seal, unseal
from faxpush.storage.base import (
    Account,
    AttemptRecord,
    AttemptResult,
    ClaimedPush,
    ClientAuthStyle,
    NewPush,
    PushRecord,
    PushState,
    PushTarget,
    Verdict,
)
from faxpush.storage.cipher import SecretCipher

Params = dict[str, Any]


def checked_time(value: datetime, name: str) -> datetime:
    """``value`` if it is timezone-aware (InputError otherwise), for a timestamptz column."""
    to_micros(value, name=name)
    return value


def token_params(
    cache_key: str, cipher: SecretCipher, token: Secret, expires_at: datetime
) -> dict[str, Any]:
    """The parameters of ``put_token``."""
    sealed = cipher.encrypt(token)
    return {
        "cache_key": cache_key,
        "token": sealed,
        "expires_at": checked_time(expires_at, "expires_at"),
    }


def token_sweep_params(now: datetime | None) -> dict[str, Any]:
    """The parameters of ``delete_expired_tokens``: expired by ``now`` (default: the current
    time), at most :data:`~faxpush.storage._common.EXPIRED_TOKENS_PER_PUT` of them."""
    when = datetime.now(UTC) if now is None else checked_time(now, "now")
    return {"now": when, "limit": EXPIRED_TOKENS_PER_PUT}


def account_params(account: Account, cipher: SecretCipher) -> Params:
    """Parameters of ``put_account``."""
    return common_account_params(
        account,
        seal(cipher, account.push_credentials),
        seal(cipher, account.push_client_key),
    )


def push_params(push: NewPush, cipher: SecretCipher, *, now: datetime) -> Params:
    """Parameters of ``insert_push`` (the body goes into the same row)."""
    due = now if push.not_before is None else checked_time(push.not_before, "not_before")
    sealed = seal(cipher, push.target.credentials)
    params = common_push_params(
        push,
        sealed,
        due=due,
        now=checked_time(now, "now"),
        sealed_client_key=seal(cipher, push.target.client_key),
    )
    params["body"] = push.body
    return params


def push_from_row(row: Record | Mapping[str, Any], cipher: SecretCipher) -> PushRecord:
    """A push from a row of ``pushes``."""
    return PushRecord(
        delivery_id=row["delivery_id"],
        job_id=row["job_id"],
        customer_number=row["customer_number"],
        target=PushTarget(
            url=row["target_url"],
            auth_method=AuthMethod(row["target_auth"]),
            principal=row["target_principal"],
            credentials=unseal(cipher, row["target_credentials"]),
            token_url=row["target_token_url"],
            client_auth=ClientAuthStyle(row["target_client_auth"]),
            ca_pem=row["target_ca_pem"],
            client_cert=row["target_client_cert"],
            client_key=unseal(cipher, row["target_client_key"]),
        ),
        content_type=row["content_type"],
        body=row["body"],
        retry_client_errors=row["retry_client_errors"],
        max_attempts=row["max_attempts"],
        state=PushState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        claimed_until=row["claimed_until"],
        claim_id=row["claim_id"],
        last_error=row["last_error"],
    )


def claims_from_rows(rows: Sequence[Record], cipher: SecretCipher) -> list[ClaimedPush]:
    """Claimed pushes, oldest due first (ties: enqueue order)."""
    return claims_in_order(rows, partial(push_from_row, cipher=cipher))


def pair_params(claims: Sequence[tuple[str, str]]) -> Params:
    """``(delivery_id, claim_id)`` pairs as the two arrays the lease queries unnest."""
    return {
        "delivery_ids": [delivery_id for delivery_id, _ in claims],
        "claim_ids": [claim_id for _, claim_id in claims],
    }


def finish_params(results: Sequence[AttemptResult]) -> Params:
    """Parameters of ``finish`` except ``now`` and ``finish_batch``: every attempt in order,
    and one verdict per (delivery_id, claim_id), the first given (as if applied in order)."""
    attempts = [result.attempt for result in results]
    verdicts: dict[tuple[str, str], tuple[int, AttemptResult]] = {}
    for ordinal, result in enumerate(results, start=1):
        verdicts.setdefault((result.delivery_id, result.claim_id), (ordinal, result))
    chosen = list(verdicts.values())
    return {
        "a_delivery_ids": [a.delivery_id for a in attempts],
        "a_numbers": [a.number for a in attempts],
        "a_started_at": [a.started_at for a in attempts],
        "a_duration_ms": [a.duration_ms for a in attempts],
        "a_http_statuses": [a.http_status for a in attempts],
        "a_error_classes": [a.error_class for a in attempts],
        "a_error_messages": [a.error_message for a in attempts],
        "a_response_headers": [
            json.dumps(dict(a.response_headers), ensure_ascii=False) for a in attempts
        ],
        "a_response_bodies": [truncate_body(a.response_body) for a in attempts],
        "a_auth_steps": [json.dumps(list(a.auth_steps), ensure_ascii=False) for a in attempts],
        "v_ordinals": [ordinal for ordinal, _ in chosen],
        "v_delivery_ids": [result.delivery_id for _, result in chosen],
        "v_claim_ids": [result.claim_id for _, result in chosen],
        "v_states": [VERDICT_STATE[result.verdict].value for _, result in chosen],
        "v_next_attempt_at": [
            result.next_attempt_at if result.verdict is Verdict.RETRY else None
            for _, result in chosen
        ],
        "v_errors": [result.error for _, result in chosen],
    }


def attempt_from_row(row: Record) -> AttemptRecord:
    """An attempt from a row of ``attempts``."""
    return common_attempt_from_row(row, as_stored)


def as_stored(value: datetime) -> datetime:
    """A stored time: the driver has made it a datetime already."""
    return value
