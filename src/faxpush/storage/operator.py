"""What the operator API asks of a store, beyond what the dispatcher needs.

:class:`OperatorStore` extends :class:`~faxpush.storage.base.Store` with the queries and
actions of ``faxpush admin``: filtered, keyset-paginated lists; batch enqueue in one
transaction; cancel; redeliver by filter; per-receiver statistics kept as counters in the
same transaction that records the attempts (never computed by scanning the attempt table);
API tokens (stored as hashes only); idempotency answers; readiness; the web console's users
(stored with password hashes only). Every backend implements it, and ``tests/contract`` runs
the same tests against each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from faxpush.storage.base import AttemptRecord, NewPush, PushRecord, PushState, Store


@dataclass(frozen=True, slots=True)
class PushFilter:
    """Which pushes a list or a bulk action covers; unset fields match everything."""

    state: PushState | None = None
    job_id: str | None = None
    receiver: str | None = None  # a receiver_key(): scheme://host:port
    since: datetime | None = None  # created at or after


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Where a newest-first page ended: its last push's creation time and delivery id.
    The next page holds the pushes strictly before it in (created_at, delivery_id) order."""

    created_at: datetime
    delivery_id: str


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """One receiver origin, as counted when attempts were committed."""

    receiver: str  # scheme://host:port
    attempts_hour: int
    successes_hour: int  # attempts answered 2xx
    attempts_day: int
    successes_day: int
    duration_p50_ms: float | None  # over the last hour's attempts; None without any
    duration_p99_ms: float | None
    pending: int  # PENDING or IN_FLIGHT pushes now
    oldest_pending_at: datetime | None  # creation time of the oldest of them
    consecutive_failures: int  # attempts since the last 2xx (0 after a success)
    last_error: str | None
    last_error_at: datetime | None
    last_attempt_at: datetime | None


class TokenScope(StrEnum):
    READ = "read"  # queries only
    WRITE = "write"  # queries, ingest and actions


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An operator API token as stored: its name and scope, never the token itself."""

    name: str
    scope: TokenScope
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A web console login: its name and password hash (see :mod:`faxpush.core.passwords`),
    never the password."""

    name: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdempotentAnswer:
    """The first answer given to a request carrying an ``Idempotency-Key``."""

    key: str  # the caller's key, scoped by the caller (e.g. "token-name:key")
    request_hash: str  # what the request was, to tell a reuse of the key for another one
    status: int
    body: bytes
    created_at: datetime


@runtime_checkable
class OperatorStore(Store, Protocol):
    """The operator API's storage. All times are timezone-aware UTC."""

    # --- ingest -------------------------------------------------------------------------
    async def enqueue_many(self, pushes: Sequence[NewPush], *, now: datetime) -> list[PushRecord]:
        """Store pushes as PENDING in one transaction, all or none; in order. Idempotent per
        delivery id like :meth:`Store.enqueue` (an existing one is returned as is)."""

    # --- queries ------------------------------------------------------------------------
    async def find_pushes(
        self, where: PushFilter, *, limit: int, before: PageCursor | None = None
    ) -> list[PushRecord]:
        """Up to ``limit`` pushes matching ``where``, newest first by (created_at,
        delivery_id), starting strictly after ``before``. Served by an index at any size."""

    async def job_attempts(self, job_id: str) -> list[AttemptRecord]:
        """Every attempt of every push of a job, oldest first."""

    async def receiver_stats(
        self, *, now: datetime, receiver: str | None = None
    ) -> list[ReceiverStats]:
        """One row per receiver that has pushes or counted attempts (or just ``receiver``),
        ordered by receiver. From counters and the pending index, not the attempt table."""

    async def attempt_series(
        self, *, since: datetime, now: datetime
    ) -> list[tuple[datetime, int, int]]:
        """(bucket start, attempts, successes) of each 5-minute counter bucket from the one
        holding ``since`` to the one holding ``now``, summed over all receivers, oldest first;
        buckets without attempts may be absent. A range of the counters' bucket index."""

    async def readiness(self) -> str | None:
        """None when the database answers and its schema is current; else why not, in one
        line an operator can act on."""

    # --- actions ------------------------------------------------------------------------
    async def cancel(self, delivery_ids: Sequence[str], *, now: datetime) -> set[str]:
        """Cancel PENDING pushes (a push being sent cannot be); the ids cancelled."""

    async def redeliver_matching(self, where: PushFilter, *, now: datetime) -> int:
        """Like :meth:`Store.redeliver` for every FAILED, DELIVERED or CANCELLED push
        matching ``where`` (its ``state``, when set, must be one of those)."""

    # --- API tokens (only their SHA-256 hashes are stored) -------------------------------
    async def create_api_token(
        self, name: str, scope: TokenScope, token_hash: str, *, now: datetime
    ) -> ApiToken:
        """Store a new token; a name already in use (revoked or not) is an InputError."""

    async def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The unrevoked token with this hash, or None."""

    async def touch_api_token(self, name: str, *, now: datetime) -> None:
        """Record a use. May skip the write when the last recorded use is under a minute
        old, so that a busy client does not turn every read into a write."""

    async def list_api_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, by name."""

    async def revoke_api_token(self, name: str, *, now: datetime) -> bool:
        """Revoke; False when no unrevoked token has this name."""

    # --- console users (only their password hashes are stored) ----------------------------
    async def create_console_user(
        self, name: str, password_hash: str, *, now: datetime
    ) -> ConsoleUser:
        """Store a new console user; a name already in use, a blank or over-long name, or a
        ``password_hash`` that is not one made by :func:`~faxpush.core.passwords.hash_password`
        is an InputError."""

    async def console_user(self, name: str) -> ConsoleUser | None:
        """The console user named ``name`` (names are compared exactly), or None."""

    async def list_console_users(self) -> list[ConsoleUser]:
        """Every console user, by name."""

    async def delete_console_user(self, name: str) -> bool:
        """Delete a console user; False when there is none of this name."""

    # --- idempotency ----------------------------------------------------------------------
    async def get_idempotent(self, key: str, *, now: datetime) -> IdempotentAnswer | None:
        """The answer remembered for ``key`` if it has not expired."""

    async def remember_idempotent(
        self, answer: IdempotentAnswer, *, keep: timedelta, now: datetime
    ) -> IdempotentAnswer:
        """Remember ``answer`` for ``keep`` unless one is already remembered for its key;
        return the one that is (the first wins). Drops a bounded number of expired ones."""


__all__ = [
    "ApiToken",
    "ConsoleUser",
    "IdempotentAnswer",
    "OperatorStore",
    "PageCursor",
    "PushFilter",
    "ReceiverStats",
    "TokenScope",
]
