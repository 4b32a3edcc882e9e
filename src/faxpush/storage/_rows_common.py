"""Row conversions the SQL outboxes share: the steps that do not depend on the dialect.

The dialects differ in how they keep a time (SQLite: integer microseconds, PostgreSQL: a
``timestamptz`` the driver returns as a datetime) and a boolean (SQLite: 0 or 1); the
functions here take a ``read_time`` where a time is read and accept either boolean form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from faxpush.core.errors import ConfigurationError
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.storage._common import unreadable_credentials
from faxpush.storage.base import (
    Account,
    AttemptRecord,
    ClaimedPush,
    ClientAuthStyle,
    PushFormat,
    PushRecord,
    PushState,
)
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.operator import ApiToken, IdempotentAnswer, TokenScope

if TYPE_CHECKING:
    from _typeshed import SupportsKeysAndGetItem

ReadTime = Callable[[Any], datetime]  # a stored, non-NULL time as a datetime


class Row(Protocol):
    """A result row by column name (``sqlite3.Row``, ``asyncpg.Record``, a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


def seal(cipher: SecretCipher, secret: Secret | None) -> bytes | None:
    """``secret`` encrypted for storage; None stays None."""
    return None if secret is None else cipher.encrypt(secret)


def unseal(cipher: SecretCipher, sealed: bytes | None) -> Secret | None:
    """A stored secret decrypted; None stays None."""
    return None if sealed is None else cipher.decrypt(sealed)


def account_from_row(row: Row, cipher: SecretCipher) -> Account:
    """An account from a row of ``accounts``."""
    return Account(
        customer_number=row["customer_number"],
        push_format=PushFormat(row["push_format"]),
        push_template=row["push_template"],
        push_template_content_type=row["push_template_content_type"],
        push_url=row["push_url"],
        push_auth=AuthMethod(row["push_auth"]),
        push_principal=row["push_principal"],
        push_credentials=unseal(cipher, row["push_credentials"]),
        oauth2_token_url=row["oauth2_token_url"],
        oauth2_client_auth=ClientAuthStyle(row["oauth2_client_auth"]),
        retry_client_errors=bool(row["retry_client_errors"]),
        push_ca_pem=row["push_ca_pem"],
        push_client_cert=row["push_client_cert"],
        push_client_key=unseal(cipher, row["push_client_key"]),
    )


def claims_in_order(
    rows: Iterable[SupportsKeysAndGetItem[str, Any]],
    read_push: Callable[[SupportsKeysAndGetItem[str, Any]], PushRecord],
) -> list[ClaimedPush]:
    """The claims of a claim query's rows, oldest due first (ties: enqueue order).

    A push whose stored credentials cannot be opened is claimed without them and marked
    (see :attr:`ClaimedPush.unreadable <faxpush.storage.base.ClaimedPush.unreadable>`), so
    that it alone fails.
    """
    claimed = []
    for row in sorted(rows, key=lambda row: (row["next_attempt_at"], row["seq"])):
        unreadable = None
        try:
            push = read_push(row)
        except ConfigurationError as exc:
            unreadable = unreadable_credentials(row["delivery_id"], exc)
            push = read_push({**row, "target_credentials": None, "target_client_key": None})
        assert push.claim_id is not None
        assert push.claimed_until is not None
        claimed.append(ClaimedPush(push, push.claim_id, push.claimed_until, unreadable))
    return claimed


def counts_by_state(rows: Iterable[Row]) -> dict[PushState, int]:
    """``count_by_state``'s rows (``state``, ``pushes``) with every state present."""
    counts = dict.fromkeys(PushState, 0)
    counts.update({PushState(row["state"]): row["pushes"] for row in rows})
    return counts


def attempt_from_row(row: Row, read_time: ReadTime) -> AttemptRecord:
    """An attempt from a row of ``attempts``."""
    return AttemptRecord(
        delivery_id=row["delivery_id"],
        number=row["number"],
        started_at=read_time(row["started_at"]),
        duration_ms=row["duration_ms"],
        http_status=row["http_status"],
        error_class=row["error_class"],
        error_message=row["error_message"],
        response_headers=json.loads(row["response_headers"]),
        response_body=bytes(row["response_body"]),
        auth_steps=tuple(json.loads(row["auth_steps"])),
    )


def token_from_row(row: Row, read_time: ReadTime) -> ApiToken:
    """An API token from a row of ``api_tokens``."""
    used, revoked = row["last_used_at"], row["revoked_at"]
    return ApiToken(
        name=row["name"],
        scope=TokenScope(row["scope"]),
        created_at=read_time(row["created_at"]),
        last_used_at=None if used is None else read_time(used),
        revoked_at=None if revoked is None else read_time(revoked),
    )


def answer_from_row(row: Row, read_time: ReadTime) -> IdempotentAnswer:
    """An idempotent answer from a row of ``idempotency_answers``."""
    return IdempotentAnswer(
        key=row["key"],
        request_hash=row["request_hash"],
        status=row["status"],
        body=bytes(row["body"]),
        created_at=read_time(row["created_at"]),
    )


__all__ = [
    "ReadTime",
    "Row",
    "account_from_row",
    "answer_from_row",
    "attempt_from_row",
    "claims_in_order",
    "counts_by_state",
    "seal",
    "token_from_row",
    "unseal",
]
