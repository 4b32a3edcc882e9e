"""Conversions between storage records and SQLite rows / query parameters."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any, TypeVar

from faxpush.core.models import AuthMethod
from faxpush.storage._common import (
    VERDICT_STATE,
    from_micros,
    lease_micros,
    share_binds,
    to_micros,
    truncate_body,
)
from faxpush.storage._common import account_params as common_account_params
from faxpush.storage._common import push_params as common_push_params
from faxpush.storage._rows_common import Row, claims_in_order, seal, unseal
from faxpush.storage._rows_common import account_from_row as account_from_row
from faxpush.storage._rows_common import attempt_from_row as common_attempt_from_row
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
_E = TypeVar("_E", bound=Enum)

# Claims convert thousands of rows a second: look enum members up by value directly.
_AUTH_METHODS = {member.value: member for member in AuthMethod}
_CLIENT_AUTH_STYLES = {member.value: member for member in ClientAuthStyle}
_PUSH_STATES = {member.value: member for member in PushState}
_json_encode = json.JSONEncoder(ensure_ascii=False).encode


def account_params(account: Account, cipher: SecretCipher) -> Params:
    """Parameters of ``put_account``."""
    params = common_account_params(
        account, seal(cipher, account.push_credentials), seal(cipher, account.push_client_key)
    )
    params["retry_client_errors"] = int(account.retry_client_errors)  # SQLite has no bool
    return params


def push_params(push: NewPush, cipher: SecretCipher, *, now_us: int) -> Params:
    """Parameters of ``insert_push`` (the body goes into ``push_bodies``)."""
    due_us = now_us if push.not_before is None else to_micros(push.not_before, name="not_before")
    params = common_push_params(
        push,
        seal(cipher, push.target.credentials),
        due=due_us,
        now=now_us,
        sealed_client_key=seal(cipher, push.target.client_key),
    )
    params["retry_client_errors"] = int(push.retry_client_errors)  # SQLite has no bool
    return params


def _enum(members: dict[str, _E], enum: type[_E], value: str) -> _E:
    member = members.get(value)
    return enum(value) if member is None else member  # unknown: let the enum say why


def _target(row: Row, cipher: SecretCipher) -> PushTarget:
    url, auth, principal = row["target_url"], row["target_auth"], row["target_principal"]
    sealed, token_url = row["target_credentials"], row["target_token_url"]
    client_auth = row["target_client_auth"]
    ca_pem, client_cert = row["target_ca_pem"], row["target_client_cert"]
    client_key = row["target_client_key"]
    if sealed is None and ca_pem is None and client_cert is None and client_key is None:
        # nothing secret in it: share one instance per receiver setup
        return _plain_target(url, auth, principal, token_url, client_auth)
    return PushTarget(
        url=url,
        auth_method=_enum(_AUTH_METHODS, AuthMethod, auth),
        principal=principal,
        credentials=unseal(cipher, sealed),
        token_url=token_url,
        client_auth=_enum(_CLIENT_AUTH_STYLES, ClientAuthStyle, client_auth),
        ca_pem=ca_pem,
        client_cert=client_cert,
        client_key=unseal(cipher, client_key),
    )


@lru_cache(maxsize=1024)
def _plain_target(
    url: str, auth: str, principal: str | None, token_url: str | None, client_auth: str
) -> PushTarget:
    return PushTarget(
        url=url,
        auth_method=_enum(_AUTH_METHODS, AuthMethod, auth),
        principal=principal,
        token_url=token_url,
        client_auth=_enum(_CLIENT_AUTH_STYLES, ClientAuthStyle, client_auth),
    )


def push_from_row(row: Row, cipher: SecretCipher, body: bytes | None = None) -> PushRecord:
    """A push from a row of ``pushes_with_body``, or of ``pushes`` plus its ``body``."""
    claimed_until = row["claimed_until"]
    # Positional, in PushRecord's field order: claims build thousands a second, and keyword
    # calls of a 16-field dataclass cost twice as much.
    return PushRecord(
        row["delivery_id"],
        row["job_id"],
        row["customer_number"],
        _target(row, cipher),
        row["content_type"],
        bytes(row["body"] if body is None else body),
        bool(row["retry_client_errors"]),
        row["max_attempts"],
        _enum(_PUSH_STATES, PushState, row["state"]),
        row["attempts"],
        from_micros(row["next_attempt_at"]),
        from_micros(row["created_at"]),
        from_micros(row["updated_at"]),
        None if claimed_until is None else from_micros(claimed_until),
        row["claim_id"],
        row["last_error"],
    )


def claim_params(
    worker_id: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    exclude: Collection[str],
    receiver_limit: int | None,
    held: Mapping[str, int] | None,
) -> tuple[str, Params]:
    """The claim query to run (``claim_due`` or, when a share can bind, ``claim_due_shared``)
    and its parameters."""
    now_us = to_micros(now, name="now")
    query = "claim_due_shared" if share_binds(limit, receiver_limit, held) else "claim_due"
    return query, {
        "worker_id": worker_id,
        "limit": limit,
        "now": now_us,
        "claimed_until": now_us + lease_micros(lease),
        "exclude": json.dumps(sorted(exclude)),
        "receiver_limit": max(limit, 0) if receiver_limit is None else receiver_limit,
        "held": json.dumps(dict(held or {})),
    }


def claims_from_rows(
    names: list[str],
    found: list[tuple[Any, ...]],
    bodies: dict[int, bytes],
    cipher: SecretCipher,
) -> list[ClaimedPush]:
    """The claims of ``claim_due``'s rows, oldest due first."""
    return claims_in_order(
        (dict(zip(names, values, strict=True)) for values in found),
        lambda row: push_from_row(row, cipher, bodies[row["seq"]]),
    )


def attempt_values(attempt: AttemptRecord) -> tuple[Any, ...]:
    """One attempt's values for ``record_attempts``, in its column order."""
    return (
        attempt.delivery_id,
        attempt.number,
        to_micros(attempt.started_at, name="attempt started_at"),
        attempt.duration_ms,
        attempt.http_status,
        attempt.error_class,
        attempt.error_message,
        _json_encode(dict(attempt.response_headers)),
        truncate_body(attempt.response_body),
        _json_encode(list(attempt.auth_steps)) if attempt.auth_steps else "[]",
    )


def verdicts_json(results: Sequence[AttemptResult]) -> str:
    """``apply_verdicts``' :results: [delivery_id, claim_id, state, next_attempt_at, error]
    per claim; the first result per claim wins, as when applied in order."""
    verdicts: dict[tuple[str, str], list[Any]] = {}
    for result in results:
        retry_at = result.next_attempt_at if result.verdict is Verdict.RETRY else None
        verdicts.setdefault(
            (result.delivery_id, result.claim_id),
            [
                result.delivery_id,
                result.claim_id,
                VERDICT_STATE[result.verdict].value,
                None if retry_at is None else to_micros(retry_at),
                result.error,
            ],
        )
    return json.dumps(list(verdicts.values()))


_ATTEMPT_COLUMNS = 10
# One statement per batch (the connection caches a statement per batch size); larger
# batches are cut, to keep each statement far below SQLite's limit on parameters.
_LARGEST_STATEMENT = 128


def attempt_batches(template: str, attempts: list[tuple[Any, ...]]) -> list[tuple[str, list[Any]]]:
    """``record_attempts`` statements and their flat parameters for ``attempts``."""
    batches = []
    start = 0
    while start < len(attempts):
        size = min(_LARGEST_STATEMENT, len(attempts) - start)
        chunk = attempts[start : start + size]
        batches.append((_record_statement(template, size), [v for row in chunk for v in row]))
        start += size
    return batches


@lru_cache(maxsize=256)
def _record_statement(template: str, rows: int) -> str:
    group = "(" + ", ".join("?" * _ATTEMPT_COLUMNS) + ")"
    return template.replace("{values}", ", ".join([group] * rows))


def attempt_from_row(row: sqlite3.Row) -> AttemptRecord:
    """An attempt from a row of ``attempts``."""
    return common_attempt_from_row(row, from_micros)


SECRET_TABLES = ("push", "push_key", "account", "account_key", "token")
