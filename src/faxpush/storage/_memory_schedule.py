"""The memory store's rows and its schedule of due pushes and expiring leases.

The schedule keeps two heaps. Entries are never removed when a push changes; instead each
entry remembers the time it was filed under, and is dropped when popped if the push has moved
on since (the usual lazy-deletion heap), so every change costs O(log n).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from faxpush.core.secrets import Secret
from faxpush.storage.base import NewPush, PushState, receiver_key

Sealed = bytes | Secret  # ciphertext, or the Secret itself when the store has no cipher


@dataclass(slots=True, eq=False)
class PushRow:
    """A push as the memory store keeps it (times in microseconds since the epoch)."""

    seq: int  # enqueue order; breaks ties
    new: NewPush  # as enqueued, with the target's credentials removed
    credentials: Sealed | None
    state: PushState
    next_attempt_at: int
    created_at: int
    updated_at: int
    attempts: int = 0
    claimed_until: int | None = None
    claim_id: str | None = None
    last_error: str | None = None

    @property
    def receiver(self) -> str:
        return receiver_key(self.new.target.url)


@dataclass(frozen=True, slots=True)
class Shares:
    """Which receivers a claim may take pushes of, and how many (see ``Store.claim``)."""

    exclude: frozenset[str] = frozenset()
    limit: int | None = None  # per receiver, less what is held; None: no limit
    held: Mapping[str, int] = field(default_factory=dict)

    def room(self, receiver: str, taken: int) -> bool:
        """Whether one more push of ``receiver`` fits, ``taken`` being taken already."""
        return self.limit is None or self.held.get(receiver, 0) + taken < self.limit


# Heap entries: (time, seq, tick, row[, claim_id]). The tick is unique, so two entries for one
# row filed under the same time never go on to compare the rows themselves.
_DueEntry = tuple[int, int, int, PushRow]
_LeaseEntry = tuple[int, int, int, PushRow, str]


def _still_due(entry: _DueEntry) -> bool:
    due_us, _, _, row = entry
    return row.state is PushState.PENDING and row.next_attempt_at == due_us


def _still_leased(entry: _LeaseEntry) -> bool:
    until_us, _, _, row, claim_id = entry
    return (
        row.state is PushState.IN_FLIGHT
        and row.claim_id == claim_id
        and row.claimed_until == until_us
    )


class Schedule:
    """Finds claimable pushes: PENDING and due, or IN_FLIGHT with an expired lease."""

    def __init__(self) -> None:
        self._due: list[_DueEntry] = []
        self._leases: list[_LeaseEntry] = []
        self._ticks = itertools.count()

    def track(self, row: PushRow) -> None:
        """File ``row`` under the time that matters in its current state."""
        if row.state is PushState.PENDING:
            heapq.heappush(self._due, (row.next_attempt_at, row.seq, next(self._ticks), row))
        elif row.state is PushState.IN_FLIGHT:
            assert row.claimed_until is not None
            assert row.claim_id is not None
            entry = (row.claimed_until, row.seq, next(self._ticks), row, row.claim_id)
            heapq.heappush(self._leases, entry)

    def take(self, now_us: int, limit: int, shares: Shares | None = None) -> list[PushRow]:
        """Of the oldest ``limit`` claimable pushes (receivers in ``shares.exclude`` skipped),
        those within their receiver's share, oldest due first. The caller must change their
        state and :meth:`track` them again."""
        shares = shares or Shares()
        exclude = shares.exclude
        found: dict[int, PushRow] = {}
        skipped: list[PushRow] = []
        while self._leases and self._leases[0][0] <= now_us:
            lease = heapq.heappop(self._leases)
            if _still_leased(lease):
                if lease[3].receiver in exclude:
                    skipped.append(lease[3])
                else:
                    found[lease[1]] = lease[3]
        due_count = 0
        while self._due and self._due[0][0] <= now_us and due_count < limit:
            due = heapq.heappop(self._due)
            if _still_due(due) and due[1] not in found:
                if due[3].receiver in exclude:
                    skipped.append(due[3])
                    continue
                found[due[1]] = due[3]
                due_count += 1
        ordered = sorted(found.values(), key=lambda row: (row.next_attempt_at, row.seq))
        taken: list[PushRow] = []
        per_receiver: Counter[str] = Counter()
        for row in ordered[:limit]:
            if shares.room(row.receiver, per_receiver[row.receiver]):
                per_receiver[row.receiver] += 1
                taken.append(row)
            else:
                skipped.append(row)
        for row in [*ordered[limit:], *skipped]:  # not taken this time: keep them findable
            self.track(row)
        return taken

    def earliest(self) -> int | None:
        """When the next push becomes due or the next lease expires."""
        while self._due and not _still_due(self._due[0]):
            heapq.heappop(self._due)
        while self._leases and not _still_leased(self._leases[0]):
            heapq.heappop(self._leases)
        times = [heap[0][0] for heap in (self._due, self._leases) if heap]
        return min(times) if times else None
