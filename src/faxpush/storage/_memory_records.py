"""What the memory store keeps and hands out: its data, secrets sealed with its cipher (or
kept as they are without one), and the records built from its rows."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime

from faxpush.core.errors import ConfigurationError
from faxpush.core.secrets import Secret
from faxpush.storage._common import (
    from_micros,
    token_sweep_params,
    truncate_body,
    unreadable_credentials,
)
from faxpush.storage._memory_schedule import PushRow, Schedule, Sealed
from faxpush.storage.base import Account, AttemptRecord, ClaimedPush, PushRecord, PushState
from faxpush.storage.cipher import SecretCipher


@dataclass(slots=True)
class MemoryData:
    """What several handles on one memory database share."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    work: asyncio.Event = field(default_factory=asyncio.Event)  # set when pushes become due
    pushes: dict[str, PushRow] = field(default_factory=dict)
    attempts: dict[str, list[AttemptRecord]] = field(default_factory=dict)
    accounts: dict[str, tuple[Account, Sealed | None]] = field(default_factory=dict)
    # Sealed client certificate keys (mutual TLS), by customer number and by delivery id.
    account_keys: dict[str, Sealed] = field(default_factory=dict)
    push_keys: dict[str, Sealed] = field(default_factory=dict)
    tokens: dict[str, tuple[Sealed, int]] = field(default_factory=dict)
    schedule: Schedule = field(default_factory=Schedule)
    extensions: dict[str, object] = field(default_factory=dict)

    def requeue(self, rows: Collection[PushRow], now_us: int) -> int:
        """Put finished pushes back to PENDING, due now, keeping their attempt count; wake
        the workers when any were. Returns how many."""
        for row in rows:
            row.state = PushState.PENDING
            row.next_attempt_at = row.updated_at = now_us
            self.schedule.track(row)
        if rows:
            self.work.set()
        return len(rows)


class Sealer:
    """Seals and opens secrets with ``cipher``; without one, keeps them as :class:`Secret`."""

    __slots__ = ("cipher",)

    def __init__(self, cipher: SecretCipher | None) -> None:
        self.cipher = cipher

    def encrypt(self, secret: Secret) -> Sealed:
        return secret if self.cipher is None else self.cipher.encrypt(secret)

    def seal(self, secret: Secret | None) -> Sealed | None:
        return None if secret is None else self.encrypt(secret)

    def open(self, sealed: Sealed) -> Secret:
        if isinstance(sealed, Secret):
            return sealed
        if self.cipher is None:
            raise ConfigurationError(
                "the stored secrets are encrypted but this store has no key; "
                "open it with the secret key it was created with"
            )
        return self.cipher.decrypt(sealed)

    def reseal(self, sealed: Sealed) -> Sealed:
        """``sealed`` under the cipher's primary key (the store must have a cipher)."""
        assert self.cipher is not None
        if isinstance(sealed, Secret):
            return self.cipher.encrypt(sealed)
        return self.cipher.rotate(sealed)


def reseal_all(data: MemoryData, sealer: Sealer) -> int:
    """Re-seal every secret of the outbox in ``data`` under the primary key; how many."""
    count = 0
    for row in data.pushes.values():
        if row.credentials is not None:
            row.credentials = sealer.reseal(row.credentials)
            count += 1
    for key, (account, sealed) in data.accounts.items():
        if sealed is not None:
            data.accounts[key] = (account, sealer.reseal(sealed))
            count += 1
    for key, (token, expires_us) in data.tokens.items():
        data.tokens[key] = (sealer.reseal(token), expires_us)
        count += 1
    for keys in (data.account_keys, data.push_keys):
        for name, sealed_key in keys.items():
            keys[name] = sealer.reseal(sealed_key)
            count += 1
    return count


def keep_sealed(keys: dict[str, Sealed], name: str, sealed: Sealed | None) -> None:
    """Store ``sealed`` under ``name``, or forget ``name`` when there is nothing to keep."""
    if sealed is None:
        keys.pop(name, None)
    else:
        keys[name] = sealed


def claimed_push(
    row: PushRow, until: datetime, sealer: Sealer, sealed_key: Sealed | None
) -> ClaimedPush:
    """The claim of ``row`` (claimed until ``until``); a push whose secrets cannot be opened
    comes without them, marked (see :attr:`ClaimedPush.unreadable`)."""
    assert row.claim_id is not None
    try:
        return ClaimedPush(push_record(row, sealer, sealed_key), row.claim_id, until)
    except ConfigurationError as exc:  # this push alone
        unreadable = unreadable_credentials(row.new.delivery_id, exc)
        push = push_record(row, sealer, None, with_credentials=False)
        return ClaimedPush(push, row.claim_id, until, unreadable)


def push_record(
    row: PushRow, sealer: Sealer, sealed_key: Sealed | None, *, with_credentials: bool = True
) -> PushRecord:
    """The push ``row`` holds, its secrets opened (``sealed_key``: its TLS client key)."""
    new = row.new
    credentials = client_key = None
    if row.credentials is not None and with_credentials:
        credentials = sealer.open(row.credentials)
    if sealed_key is not None and with_credentials:
        client_key = sealer.open(sealed_key)
    target = new.target
    if credentials is not None or client_key is not None:
        target = replace(target, credentials=credentials, client_key=client_key)
    return PushRecord(
        delivery_id=new.delivery_id,
        job_id=new.job_id,
        customer_number=new.customer_number,
        target=target,
        content_type=new.content_type,
        body=new.body,
        retry_client_errors=new.retry_client_errors,
        max_attempts=new.max_attempts,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=from_micros(row.next_attempt_at),
        created_at=from_micros(row.created_at),
        updated_at=from_micros(row.updated_at),
        claimed_until=None if row.claimed_until is None else from_micros(row.claimed_until),
        claim_id=row.claim_id,
        last_error=row.last_error,
    )


def stored_attempt(attempt: AttemptRecord) -> AttemptRecord:
    """``attempt`` as kept: its own copies of mutable parts, the body truncated."""
    return replace(
        attempt,
        response_headers=dict(attempt.response_headers),
        response_body=truncate_body(attempt.response_body),
        auth_steps=tuple(attempt.auth_steps),
    )


def drop_expired_tokens(tokens: dict[str, tuple[Sealed, int]], now: datetime | None) -> None:
    """Forget the tokens the SQL stores' ``delete_expired_tokens`` would delete: expired by
    ``now`` (default: the current time), the longest expired first, a bounded number."""
    sweep = token_sweep_params(now)
    expired = heapq.nsmallest(
        sweep["limit"],
        ((expires, key) for key, (_, expires) in tokens.items() if expires <= sweep["now"]),
    )
    for _, key in expired:
        del tokens[key]
