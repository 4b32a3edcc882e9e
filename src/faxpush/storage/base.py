"""The storage seam: records and the narrow async ``Store`` protocol.

Every backend (memory, SQLite, PostgreSQL) implements :class:`Store`; the contract suite in
``tests/contract`` runs the same behavioural tests against each of them. Backends translate
their driver exceptions into :class:`faxpush.core.errors.StorageError` at this boundary.

Credentials (push credentials, OAuth2 client secrets, cached tokens) are handed to and
returned from a store as :class:`Secret`; a store encrypts them at rest with the
:class:`SecretCipher` it was built with and never logs them.

The push targets and accounts a store keeps are plain core types
(:mod:`faxpush.core.targets`), re-exported here for the backends.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import urlsplit

from faxpush.core.outcome import Verdict
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account, ClientAuthStyle, PushFormat, PushTarget

if TYPE_CHECKING:
    from faxpush.storage.cipher import SecretCipher


class PushState(StrEnum):
    """Explicit push states; never inferred from other columns."""

    PENDING = "pending"  # waiting for next_attempt_at
    IN_FLIGHT = "in_flight"  # claimed by a worker until claimed_until
    DELIVERED = "delivered"  # a 2xx was received
    FAILED = "failed"  # given up: permanent error or attempts exhausted
    CANCELLED = "cancelled"  # withdrawn by an operator


@dataclass(frozen=True, slots=True)
class NewPush:
    """A push to enqueue. The body is rendered once, here; retries send the same bytes."""

    delivery_id: str  # stable id, sent as Faxpush-Delivery-Id on every attempt
    job_id: str
    target: PushTarget
    content_type: str
    body: bytes
    customer_number: str | None = None
    retry_client_errors: bool = False
    max_attempts: int | None = None  # None: the retry schedule decides
    not_before: datetime | None = None  # None: as soon as possible


@dataclass(frozen=True, slots=True)
class PushRecord:
    """A push as stored."""

    delivery_id: str
    job_id: str
    customer_number: str | None
    target: PushTarget
    content_type: str
    body: bytes
    retry_client_errors: bool
    max_attempts: int | None
    state: PushState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    claimed_until: datetime | None = None
    claim_id: str | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedPush:
    """A push leased to one worker; ``claim_id`` is the fencing token."""

    push: PushRecord
    claim_id: str
    claimed_until: datetime
    # Set when the push's stored credentials cannot be opened with the configured key(s):
    # why, and how to fix it. The push is then given to the worker without its credentials,
    # to be recorded as failed instead of sent (so that it cannot stop the other pushes).
    unreadable: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One delivery attempt; every attempt is a row."""

    delivery_id: str
    number: int  # 1-based attempt number
    started_at: datetime
    duration_ms: float
    http_status: int | None  # None when no response was received
    error_class: str | None  # e.g. "timeout", "connect", "auth", "refused_address"
    error_message: str | None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: bytes = b""  # truncated to RESPONSE_BODY_LIMIT by the store
    auth_steps: tuple[str, ...] = ()  # e.g. ("digest challenge", "digest response")


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What a worker reports for a claimed push: the attempt row and the transition."""

    delivery_id: str
    claim_id: str
    attempt: AttemptRecord
    verdict: Verdict
    next_attempt_at: datetime | None = None  # required when verdict is RETRY
    error: str | None = None  # human summary kept on the push (last_error)
    # The push's receiver_key(), for the per-receiver counters kept in the same commit;
    # None: the store looks it up.
    receiver: str | None = None


RESPONSE_BODY_LIMIT = 16 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=4096)  # called for every claimed push; receivers are few
def receiver_key(url: str) -> str:
    """The receiver a push URL belongs to, ``scheme://host:port``: the unit of per-host
    concurrency limits. Stored with each push so claims can skip saturated receivers."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS.get(scheme, 0)}"


__all__ = [
    "RESPONSE_BODY_LIMIT",
    "Account",
    "AttemptRecord",
    "AttemptResult",
    "ClaimedPush",
    "ClientAuthStyle",
    "NewPush",
    "PushFormat",
    "PushRecord",
    "PushState",
    "PushTarget",
    "Store",
    "Verdict",
    "receiver_key",
]


@runtime_checkable
class Store(Protocol):
    """Domain-level storage for the dispatcher. All times are timezone-aware UTC."""

    async def migrate(self) -> None:
        """Create or upgrade the schema; safe to call on every start."""

    async def close(self) -> None:
        """Release connections."""

    @property
    def cipher(self) -> SecretCipher | None:
        """The cipher that seals the stored secrets (None: a memory store keeping them in clear)."""

    # --- accounts ---------------------------------------------------------------------
    async def put_account(self, account: Account) -> None:
        """Insert or replace an account's push settings."""

    async def get_account(self, customer_number: str) -> Account | None: ...

    async def list_accounts(self) -> list[Account]: ...

    # --- the outbox -------------------------------------------------------------------
    async def enqueue(self, push: NewPush, *, now: datetime) -> PushRecord:
        """Store a push as PENDING. Idempotent: an existing delivery id is returned as is."""

    async def claim(
        self,
        *,
        worker_id: str,
        limit: int,
        lease: timedelta,
        now: datetime,
        exclude_receivers: Collection[str] = (),
        receiver_limit: int | None = None,
        receiver_held: Mapping[str, int] | None = None,
    ) -> list[ClaimedPush]:
        """Lease up to ``limit`` due pushes: PENDING with ``next_attempt_at <= now``, or
        IN_FLIGHT whose lease expired. Each gets a fresh ``claim_id``. Oldest due first.
        Two concurrent claims never return the same push. Pushes whose
        :func:`receiver_key` is in ``exclude_receivers`` are skipped (the worker already
        holds as many for that receiver as it may send at once).

        With ``receiver_limit``, a receiver gets at most that many pushes minus those the
        caller holds already (``receiver_held``, by receiver key), so that a receiver with a
        large backlog cannot take the whole claim. The oldest due ``limit`` pushes are
        considered; receivers whose share is used up leave the rest to the next claim."""

    async def renew(
        self, claims: Sequence[tuple[str, str]], *, lease: timedelta, now: datetime
    ) -> set[str]:
        """Extend the leases of ``(delivery_id, claim_id)`` pairs still held; return the
        delivery ids whose lease was extended (the others were lost)."""

    async def finish(self, results: Sequence[AttemptResult], *, now: datetime) -> set[str]:
        """Record attempts and apply verdicts in one transaction (group commit).

        A result is applied only when its ``claim_id`` is still current; the attempt row is
        recorded either way (it happened). Returns the delivery ids that were applied."""

    async def release(
        self, claims: Sequence[tuple[str, str]], *, now: datetime, due_at: datetime | None = None
    ) -> int:
        """Return claimed pushes to PENDING, due at ``due_at`` (default: now), without
        recording an attempt (graceful shutdown; deferring pushes to a saturated receiver).
        Fenced on claim_id. Returns how many were released."""

    async def next_due_at(self) -> datetime | None:
        """When the earliest PENDING push becomes due (or an IN_FLIGHT lease expires)."""

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - a long poll
        """Return True when pushes may have become due by another's hand (enqueued,
        released, redelivered), or False after ``timeout`` seconds. A store that cannot tell
        waits the whole ``timeout``; it is only ever a shortcut, the dispatcher polls too."""

    # --- queries and operator actions -------------------------------------------------
    async def get_push(self, delivery_id: str) -> PushRecord | None: ...

    async def list_pushes(
        self, *, state: PushState | None = None, limit: int = 100, offset: int = 0
    ) -> list[PushRecord]:
        """Newest first."""

    async def list_attempts(self, delivery_id: str) -> list[AttemptRecord]:
        """Oldest first."""

    async def count_by_state(self) -> dict[PushState, int]: ...

    async def redeliver(
        self,
        *,
        delivery_ids: Sequence[str] = (),
        failed_since: datetime | None = None,
        now: datetime,
    ) -> int:
        """Put FAILED/DELIVERED/CANCELLED pushes (by id, or every FAILED one updated since
        ``failed_since``) back to PENDING, due now, with their attempt count kept.
        Returns how many were requeued."""

    # --- OAuth2 token cache -----------------------------------------------------------
    async def get_token(self, cache_key: str, *, now: datetime) -> Secret | None:
        """A cached access token that has not expired, or None."""

    async def put_token(
        self, cache_key: str, token: Secret, *, expires_at: datetime, now: datetime | None = None
    ) -> None:
        """Cache an access token until ``expires_at``, and drop a bounded number of tokens
        that expired by ``now`` (default: the current time) so that keys nobody asks for
        again do not pile up."""

    # --- secrets ----------------------------------------------------------------------
    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret with the cipher's current key; return the count."""
