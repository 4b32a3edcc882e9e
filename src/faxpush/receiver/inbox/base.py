"""The inbox seam: records, the unique key of a push, and the async ``InboxStore`` protocol.

A push is stored under a unique key *before* the receiver answers 2xx; storing it again
under the same key only counts the duplicate. Each handler registered when a push first
arrives gets a *task* row, created in the same transaction, so handlers run after the commit,
each one exactly until it succeeds, and a restart finds whatever was left undone.

Backends: :class:`~faxpush.receiver.inbox.memory.MemoryInbox`,
:class:`~faxpush.receiver.inbox.sqlite.SqliteInbox` and
:class:`~faxpush.receiver.inbox.postgres.PgInbox`; the same tests run against all three.
Driver exceptions become :class:`~faxpush.core.errors.StorageError` at this boundary.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from faxpush.core.models import AuthMethod, FaxJobReport

DELIVERY_ID_HEADER = "Faxpush-Delivery-Id"
MAX_DELIVERY_ID_LENGTH = 200


class TaskState(StrEnum):
    """Where one handler stands with one push."""

    PENDING = "pending"  # due at next_attempt_at
    RUNNING = "running"  # claimed until claimed_until
    DONE = "done"  # the handler returned
    FAILED = "failed"  # the handler kept failing; given up until an operator retries


@dataclass(frozen=True, slots=True)
class IncomingPush:
    """A verified, parsed push about to be stored.

    ``default_layout``: the body is in a default layout, so a store may keep only the body
    and parse it again when the push is read (a customer layout stores the parsed report).
    """

    key: str
    content_type: str
    body: bytes
    report: FaxJobReport
    auth_method: AuthMethod
    principal: str | None = None
    delivery_id: str | None = None
    default_layout: bool = False


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A push as stored. ``times_received`` counts the first arrival and every duplicate."""

    key: str
    content_type: str
    body: bytes
    report: FaxJobReport
    auth_method: AuthMethod
    principal: str | None
    delivery_id: str | None
    received_at: datetime
    last_received_at: datetime
    times_received: int

    @property
    def job_id(self) -> str:
        return self.report.jobId


@dataclass(frozen=True, slots=True)
class Accepted:
    """The outcome of storing a push: ``created`` is False for a duplicate."""

    key: str
    created: bool
    times_received: int


@dataclass(frozen=True, slots=True)
class HandlerTask:
    """One handler's work on one push."""

    key: str
    handler: str
    state: TaskState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    claim_id: str | None = None
    claimed_until: datetime | None = None
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    """A task leased to this process; ``task.claim_id`` fences its completion."""

    task: HandlerTask
    claim_id: str


def inbox_key(report: FaxJobReport, delivery_id: str | None) -> str:
    """The unique key of a push: its delivery id when the sender gave one, else a SHA-256
    of the job id and every recipient's final status (the same report pushed twice without
    a delivery id is then recognised as well)."""
    if delivery_id is not None:
        return f"delivery:{delivery_id}"
    statuses = [
        [
            r.number,
            r.numId,
            r.status,
            r.reason,
            None if r.sentTS is None else r.sentTS.isoformat(),
            r.durationInSecs,
            r.sentToNumber,
        ]
        for r in report.faxRecipients
    ]
    canonical = json.dumps([report.jobId, statuses], ensure_ascii=False, separators=(",", ":"))
    return "report:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def valid_delivery_id(value: str) -> bool:
    """A delivery id is 1..200 printable ASCII characters without spaces."""
    # For ASCII, isprintable() is U+0020..U+007E: with the space excluded, that is the rule.
    return (
        0 < len(value) <= MAX_DELIVERY_ID_LENGTH
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


@runtime_checkable
class InboxStore(Protocol):
    """Durable, idempotent storage of received pushes and their handler tasks.

    All times are timezone-aware UTC.
    """

    async def migrate(self) -> None:
        """Create or upgrade the schema; safe on every start."""

    async def close(self) -> None:
        """Release connections; safe to call twice."""

    async def accept(
        self, push: IncomingPush, *, handlers: Sequence[str], now: datetime
    ) -> Accepted:
        """Store ``push`` with a PENDING task per handler, due ``now``; committed when this
        returns. A known key only counts the duplicate (no new tasks)."""

    async def get(self, key: str) -> InboxEntry | None: ...

    async def list_entries(self, *, limit: int = 100, offset: int = 0) -> list[InboxEntry]:
        """Newest first."""

    async def count(self) -> int: ...

    async def claim_tasks(
        self, *, now: datetime, lease: timedelta, limit: int, key: str | None = None
    ) -> list[ClaimedTask]:
        """Lease up to ``limit`` tasks (of ``key`` only, when given) that are PENDING and
        due, or RUNNING with an expired lease; each claim counts as an attempt."""

    async def finish_task(
        self,
        claimed: ClaimedTask,
        *,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """DONE when ``error`` is None; else PENDING again at ``retry_at``, or FAILED when
        ``retry_at`` is None. Applied only while the claim is current; returns whether."""

    async def list_tasks(
        self, *, key: str | None = None, state: TaskState | None = None, limit: int = 1000
    ) -> list[HandlerTask]:
        """Oldest push first, then by handler name."""

    async def retry_failed(self, *, now: datetime, key: str | None = None) -> int:
        """Put FAILED tasks (of ``key``, or all) back to PENDING, due now; returns how many."""

    async def next_task_due(self) -> datetime | None:
        """When the earliest PENDING task is due or a RUNNING lease expires."""

    async def purge(self, *, received_before: datetime) -> int:
        """Delete pushes received before the time whose tasks are all DONE; returns how many."""


__all__ = [
    "DELIVERY_ID_HEADER",
    "Accepted",
    "ClaimedTask",
    "HandlerTask",
    "InboxEntry",
    "InboxStore",
    "IncomingPush",
    "TaskState",
    "inbox_key",
    "valid_delivery_id",
]
