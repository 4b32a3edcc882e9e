"""The memory store's :class:`~faxpush.storage.operator.OperatorStore` part: lists and bulk
actions over its push rows, per-receiver counters updated in ``finish``, API tokens,
idempotency answers and console users. Its state lives beside the outbox's
(``MemoryStore.extension``), so every handle on one memory database sees it; everything runs
under the database's lock.

Lists scan the pushes: the memory store is meant for tests and small embedded runs, the SQL
stores serve the same queries from indexes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from faxpush.core.receiver_stats import HISTOGRAM_SIZE, merge_histograms
from faxpush.storage._common import from_micros, to_micros
from faxpush.storage._memory_schedule import PushRow
from faxpush.storage._operator_common import (
    COUNTER_SWEEP_LIMIT,
    DAY,
    EXPIRED_ANSWERS_PER_PUT,
    HOUR,
    PENDING_STATES,
    REQUEUEABLE,
    SWEEP_EVERY,
    TOUCH_INTERVAL,
    CounterTotals,
    HealthRow,
    PendingRow,
    answer_expiry,
    applied_health,
    assemble_stats,
    check_console_user,
    check_page_limit,
    check_redeliver_filter,
    check_token_name,
    counter_deltas,
    duplicate_console_user,
    duplicate_token,
    duplicate_token_hash,
    retention_start,
    series_range,
    window_start,
)
from faxpush.storage.base import AttemptRecord, AttemptResult, NewPush, PushRecord, PushState
from faxpush.storage.operator import (
    ApiToken,
    ConsoleUser,
    IdempotentAnswer,
    PageCursor,
    PushFilter,
    ReceiverStats,
    TokenScope,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from faxpush.storage._memory_records import MemoryData


@dataclass(slots=True)
class OperatorData:
    """The operator state of one memory database."""

    # (receiver, bucket start) -> [attempts, successes, h00, ..., h12]
    counts: dict[tuple[str, datetime], list[int]] = field(default_factory=dict)
    health: dict[str, HealthRow] = field(default_factory=dict)
    tokens: dict[str, tuple[ApiToken, str]] = field(default_factory=dict)  # name -> (, hash)
    token_names: dict[str, str] = field(default_factory=dict)  # hash -> name
    answers: dict[str, tuple[IdempotentAnswer, datetime]] = field(default_factory=dict)
    console_users: dict[str, ConsoleUser] = field(default_factory=dict)
    finishes: int = 0


def _matches(row: PushRow, where: PushFilter, since_us: int | None) -> bool:
    return (
        (where.state is None or row.state is where.state)
        and (where.job_id is None or row.new.job_id == where.job_id)
        and (where.receiver is None or row.receiver == where.receiver)
        and (since_us is None or row.created_at >= since_us)
    )


def _since(where: PushFilter) -> int | None:
    return None if where.since is None else to_micros(where.since, name="since")


class MemoryOperator:
    """The operator part of :class:`~faxpush.storage.memory.MemoryStore`."""

    if TYPE_CHECKING:  # provided by MemoryStore

        def _locked(self) -> AbstractAsyncContextManager[MemoryData]: ...

        def _record(self, row: PushRow) -> PushRecord: ...

        def _insert(self, data: MemoryData, push: NewPush, now_us: int, due_us: int) -> PushRow: ...

        def extension(self, name: str, factory: Callable[[], object]) -> object: ...

        _closed: bool

    def _operator(self) -> OperatorData:
        state = self.extension("operator", OperatorData)
        assert isinstance(state, OperatorData)
        return state

    # --- ingest -------------------------------------------------------------------------
    async def enqueue_many(self, pushes: Sequence[NewPush], *, now: datetime) -> list[PushRecord]:
        """Store pushes as PENDING, all or none (every one is checked before any is stored)."""
        now_us = to_micros(now, name="now")
        dues = [
            now_us if push.not_before is None else to_micros(push.not_before, name="not_before")
            for push in pushes
        ]
        async with self._locked() as data:
            rows = [
                self._insert(data, push, now_us, due_us)
                for push, due_us in zip(pushes, dues, strict=True)
            ]
            return [self._record(row) for row in rows]

    # --- queries ------------------------------------------------------------------------
    async def find_pushes(
        self, where: PushFilter, *, limit: int, before: PageCursor | None = None
    ) -> list[PushRecord]:
        """Up to ``limit`` pushes matching ``where``, newest first, after ``before``."""
        check_page_limit(limit)
        since_us = _since(where)
        after = None
        if before is not None:
            after = (to_micros(before.created_at, name="cursor"), before.delivery_id)
        async with self._locked() as data:
            rows = [
                row
                for row in data.pushes.values()
                if _matches(row, where, since_us)
                and (after is None or (row.created_at, row.new.delivery_id) < after)
            ]
            page = heapq.nlargest(
                limit, rows, key=lambda row: (row.created_at, row.new.delivery_id)
            )
            return [self._record(row) for row in page]

    async def job_attempts(self, job_id: str) -> list[AttemptRecord]:
        """Every attempt of every push of the job, oldest first."""
        async with self._locked() as data:
            found = [
                attempt
                for delivery_id, row in data.pushes.items()
                if row.new.job_id == job_id
                for attempt in data.attempts.get(delivery_id, ())
            ]
            return sorted(found, key=lambda attempt: attempt.started_at)

    async def receiver_stats(
        self, *, now: datetime, receiver: str | None = None
    ) -> list[ReceiverStats]:
        """One row per receiver with pushes or counted attempts (or just ``receiver``)."""
        hour_start, day_start = window_start(now, HOUR), window_start(now, DAY)
        async with self._locked() as data:
            state = self._operator()
            receivers: set[str] = set()
            pending: dict[str, tuple[int, int]] = {}
            for row in data.pushes.values():
                name = row.receiver
                receivers.add(name)
                if row.state in PENDING_STATES:
                    count, oldest = pending.get(name, (0, row.created_at))
                    pending[name] = (count + 1, min(oldest, row.created_at))
            sums: dict[str, list[int]] = {}
            hours: dict[str, list[list[int]]] = {}
            for (name, start), counts in state.counts.items():
                if start < day_start:
                    continue
                total = sums.setdefault(name, [0, 0, 0, 0])
                total[2] += counts[0]
                total[3] += counts[1]
                if start >= hour_start:
                    total[0] += counts[0]
                    total[1] += counts[1]
                    hours.setdefault(name, []).append(counts[2:])
            totals = [
                CounterTotals(
                    name, hour, hour_ok, day, day_ok, merge_histograms(hours.get(name, []))
                )
                for name, (hour, hour_ok, day, day_ok) in sums.items()
            ]
            backlog = [
                PendingRow(name, count, from_micros(oldest))
                for name, (count, oldest) in pending.items()
            ]
            return assemble_stats(receivers, totals, state.health.values(), backlog, only=receiver)

    async def attempt_series(
        self, *, since: datetime, now: datetime
    ) -> list[tuple[datetime, int, int]]:
        """Every receiver's attempts and successes per bucket from ``since``, oldest first."""
        first, last = series_range(since, now)
        sums: dict[datetime, tuple[int, int]] = {}
        async with self._locked():
            for (_, start), counts in self._operator().counts.items():
                if first <= start <= last:
                    attempts, successes = sums.get(start, (0, 0))
                    sums[start] = (attempts + counts[0], successes + counts[1])
        return [(start, *sums[start]) for start in sorted(sums)]

    async def readiness(self) -> str | None:
        """None: a memory store answers as long as it is open."""
        return "the memory store is closed; open a new one" if self._closed else None

    # --- actions ------------------------------------------------------------------------
    async def cancel(self, delivery_ids: Sequence[str], *, now: datetime) -> set[str]:
        """Cancel the PENDING pushes among ``delivery_ids``; return those cancelled."""
        now_us = to_micros(now, name="now")
        async with self._locked() as data:
            cancelled: set[str] = set()
            for delivery_id in delivery_ids:
                row = data.pushes.get(delivery_id)
                if row is not None and row.state is PushState.PENDING:
                    row.state = PushState.CANCELLED
                    row.updated_at = now_us
                    cancelled.add(delivery_id)
            return cancelled

    async def redeliver_matching(self, where: PushFilter, *, now: datetime) -> int:
        """Put every finished push matching ``where`` back to PENDING, due now."""
        check_redeliver_filter(where)
        now_us = to_micros(now, name="now")
        since_us = _since(where)
        async with self._locked() as data:
            chosen = [
                row
                for row in data.pushes.values()
                if row.state in REQUEUEABLE and _matches(row, where, since_us)
            ]
            return data.requeue(chosen, now_us)

    # --- API tokens ---------------------------------------------------------------------
    async def create_api_token(
        self, name: str, scope: TokenScope, token_hash: str, *, now: datetime
    ) -> ApiToken:
        """Store a new token; a name or hash already in use is an InputError."""
        check_token_name(name)
        to_micros(now, name="now")
        async with self._locked():
            state = self._operator()
            if name in state.tokens:
                raise duplicate_token(name)
            if token_hash in state.token_names:
                raise duplicate_token_hash()
            token = ApiToken(name=name, scope=TokenScope(scope), created_at=now)
            state.tokens[name] = (token, token_hash)
            state.token_names[token_hash] = name
            return token

    async def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The unrevoked token with this hash, or None."""
        async with self._locked():
            state = self._operator()
            name = state.token_names.get(token_hash)
            if name is None:
                return None
            token = state.tokens[name][0]
            return None if token.revoked_at is not None else token

    async def touch_api_token(self, name: str, *, now: datetime) -> None:
        """Record a use, unless the last recorded one is under a minute old."""
        async with self._locked():
            state = self._operator()
            stored = state.tokens.get(name)
            if stored is None:
                return
            token, token_hash = stored
            if token.last_used_at is not None and now - token.last_used_at < TOUCH_INTERVAL:
                return
            state.tokens[name] = (replace(token, last_used_at=now), token_hash)

    async def list_api_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, by name."""
        async with self._locked():
            tokens = self._operator().tokens
            return [tokens[name][0] for name in sorted(tokens)]

    async def revoke_api_token(self, name: str, *, now: datetime) -> bool:
        """Revoke; False when no unrevoked token has this name."""
        async with self._locked():
            state = self._operator()
            stored = state.tokens.get(name)
            if stored is None or stored[0].revoked_at is not None:
                return False
            state.tokens[name] = (replace(stored[0], revoked_at=now), stored[1])
            return True

    # --- console users --------------------------------------------------------------------
    async def create_console_user(
        self, name: str, password_hash: str, *, now: datetime
    ) -> ConsoleUser:
        """Store a new console user; a name in use, or a password not hashed, is an
        InputError."""
        check_console_user(name, password_hash)
        created_at = from_micros(to_micros(now, name="now"))  # in UTC, as the SQL stores keep it
        async with self._locked():
            users = self._operator().console_users
            if name in users:
                raise duplicate_console_user(name)
            user = ConsoleUser(name=name, password_hash=password_hash, created_at=created_at)
            users[name] = user
            return user

    async def console_user(self, name: str) -> ConsoleUser | None:
        """The console user named ``name``, or None."""
        async with self._locked():
            return self._operator().console_users.get(name)

    async def list_console_users(self) -> list[ConsoleUser]:
        """Every console user, by name."""
        async with self._locked():
            users = self._operator().console_users
            return [users[name] for name in sorted(users)]

    async def delete_console_user(self, name: str) -> bool:
        """Delete a console user; False when there is none of this name."""
        async with self._locked():
            return self._operator().console_users.pop(name, None) is not None

    # --- idempotency ----------------------------------------------------------------------
    async def get_idempotent(self, key: str, *, now: datetime) -> IdempotentAnswer | None:
        """The answer remembered for ``key`` if it has not expired."""
        async with self._locked():
            stored = self._operator().answers.get(key)
            return None if stored is None or stored[1] <= now else stored[0]

    async def remember_idempotent(
        self, answer: IdempotentAnswer, *, keep: timedelta, now: datetime
    ) -> IdempotentAnswer:
        """Remember ``answer`` unless an unexpired one is remembered for its key; the one
        that is."""
        until = answer_expiry(now, keep)
        async with self._locked():
            answers = self._operator().answers
            expired = heapq.nsmallest(
                EXPIRED_ANSWERS_PER_PUT,
                ((until, key) for key, (_, until) in answers.items() if until <= now),
            )
            for _, key in expired:
                del answers[key]
            stored = answers.get(answer.key)
            if stored is not None:
                return stored[0]
            answers[answer.key] = (answer, until)
            return answer

    # --- counters, from MemoryStore.finish ------------------------------------------------
    def _count_results(
        self, data: MemoryData, results: Sequence[AttemptResult], now: datetime
    ) -> None:
        """Add the attempts of ``results`` (their pushes known) to the receiver counters."""
        pushes = data.pushes

        def receiver_of(result: AttemptResult) -> str | None:
            row = pushes.get(result.delivery_id)
            return None if row is None else row.receiver

        known = [result for result in results if result.delivery_id in pushes]
        deltas, firsts = counter_deltas(known, receiver_of)
        state = self._operator()
        for delta in deltas:
            counts = state.counts.setdefault(
                (delta.receiver, delta.bucket_start), [0] * (2 + HISTOGRAM_SIZE)
            )
            counts[0] += delta.attempts
            counts[1] += delta.successes
            for index, count in enumerate(delta.histogram):
                counts[2 + index] += count
        for delta in firsts:
            state.health[delta.receiver] = applied_health(state.health.get(delta.receiver), delta)
        state.finishes += 1
        if state.finishes % SWEEP_EVERY == 0:
            oldest = retention_start(now)
            old = [key for key in state.counts if key[1] < oldest][:COUNTER_SWEEP_LIMIT]
            for key in old:
                del state.counts[key]
