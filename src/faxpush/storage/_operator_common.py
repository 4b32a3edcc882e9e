"""What every backend's :class:`~faxpush.storage.operator.OperatorStore` does the same way:
checking filters and limits, turning committed results into counter updates, the windows the
receivers table covers, and assembling its rows from what a backend read."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from faxpush.core.errors import InputError
from faxpush.core.passwords import is_password_hash
from faxpush.core.receiver_stats import (
    BUCKET_SECONDS,
    HISTOGRAM_SIZE,
    AttemptSample,
    ReceiverDelta,
    bucket_start,
    percentile,
    receiver_deltas,
)
from faxpush.storage._common import to_micros
from faxpush.storage.base import AttemptResult, PushState, Verdict
from faxpush.storage.operator import PushFilter, ReceiverStats

REQUEUEABLE = frozenset({PushState.FAILED, PushState.DELIVERED, PushState.CANCELLED})
PENDING_STATES = (PushState.PENDING, PushState.IN_FLIGHT)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
COUNTER_RETENTION = timedelta(days=2)  # counter buckets older than this are dropped
COUNTER_SWEEP_LIMIT = 500  # at most this many old buckets dropped per sweep
SWEEP_EVERY = 64  # finishes of one store between two sweeps of old counter buckets
EXPIRED_ANSWERS_PER_PUT = 100  # remembering an answer drops at most this many expired ones
MAX_PAGE = 10_000  # the largest page find_pushes gives at once
TOUCH_INTERVAL = timedelta(minutes=1)  # a token's last use is written at most this often


def check_page_limit(limit: int) -> None:
    """Refuse a page size that is not 1..MAX_PAGE."""
    if not 0 < limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")


def check_redeliver_filter(where: PushFilter) -> None:
    """Refuse a redeliver filter whose state cannot be redelivered."""
    if where.state is not None and where.state not in REQUEUEABLE:
        allowed = ", ".join(sorted(state.value for state in REQUEUEABLE))
        raise InputError(
            f"pushes in state {where.state.value} cannot be redelivered; filter on {allowed}"
        )


def check_token_name(name: str) -> None:
    """Refuse an API token name that is blank or too long."""
    if not name.strip() or len(name) > 100:
        raise InputError(f"a token name must be 1-100 characters and not blank, got {name!r}")


def duplicate_token(name: str) -> InputError:
    """The error for a token name already taken."""
    return InputError(
        f"an API token named {name!r} exists already (revoked tokens keep their name); "
        "choose another name"
    )


def duplicate_token_hash() -> InputError:
    """The error for a token hash already stored (under any name)."""
    return InputError("this token is stored already; generate a new one")


def check_console_user(name: str, password_hash: str) -> None:
    """Refuse a console user whose name is blank, too long or padded with spaces, or whose
    password is not hashed (a store never holds a password)."""
    if not name.strip() or len(name) > 100 or name != name.strip():
        raise InputError(
            "a console user name must be 1-100 characters, not blank and without leading or "
            f"trailing spaces, got {name!r}"
        )
    if not is_password_hash(password_hash):
        raise InputError(
            "a console user is stored with a password hash made by "
            "faxpush.core.passwords.hash_password, never with the password itself"
        )


def duplicate_console_user(name: str) -> InputError:
    """The error for a console user name already taken."""
    return InputError(
        f"a console user named {name!r} exists already; choose another name, or delete it "
        f"first with 'faxpush admin user delete {shlex.quote(name)}'"
    )


def answer_expiry(now: datetime, keep: timedelta) -> datetime:
    """When an idempotent answer remembered at ``now`` for ``keep`` expires; an InputError
    unless ``keep`` is positive and ``now`` timezone-aware."""
    if keep <= timedelta(0):
        raise InputError(f"an idempotent answer must be kept for a positive time, not {keep}")
    to_micros(now, name="now")
    return now + keep


def outcome_of(result: AttemptResult) -> tuple[bool, str | None]:
    """How the counters see a committed result: whether it succeeded (the verdict is
    DELIVERED), and for a failure its error summary."""
    if result.verdict is Verdict.DELIVERED:
        return True, None
    return False, result.error or result.attempt.error_message


def samples_of(
    results: Sequence[AttemptResult], receiver_of: Callable[[AttemptResult], str | None]
) -> list[AttemptSample]:
    """The counter samples of committed ``results``; ``receiver_of`` gives a result's receiver
    when the result does not carry it (None: its push is unknown, it is not counted)."""
    samples: list[AttemptSample] = []
    for result in results:
        receiver = result.receiver or receiver_of(result)
        if receiver is not None:
            attempt = result.attempt
            success, error = outcome_of(result)
            samples.append(
                AttemptSample(receiver, attempt.started_at, attempt.duration_ms, success, error)
            )
    return samples


def per_receiver(
    samples: Sequence[AttemptSample],
) -> tuple[list[ReceiverDelta], list[ReceiverDelta]]:
    """The bucket deltas of ``samples``, and one of them per receiver (for its health row:
    a receiver's deltas all carry the same health fields)."""
    deltas = receiver_deltas(samples)
    firsts: dict[str, ReceiverDelta] = {}
    for delta in deltas:
        firsts.setdefault(delta.receiver, delta)
    return deltas, list(firsts.values())


def counter_deltas(
    results: Sequence[AttemptResult], receiver_of: Callable[[AttemptResult], str | None]
) -> tuple[list[ReceiverDelta], list[ReceiverDelta]]:
    """The bucket deltas of ``results``, and one of them per receiver (for its health row);
    see :func:`samples_of` for ``receiver_of``."""
    return per_receiver(samples_of(results, receiver_of))


def window_start(now: datetime, span: timedelta) -> datetime:
    """The first bucket of a window of ``span`` ending with the bucket holding ``now``."""
    return bucket_start(now) - span + timedelta(seconds=BUCKET_SECONDS)


def series_range(since: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The first and last bucket starts of an attempt series from ``since`` up to ``now``
    (an InputError unless both are timezone-aware)."""
    return bucket_start(since), bucket_start(now)


def retention_start(now: datetime) -> datetime:
    """Buckets starting before this are dropped."""
    return bucket_start(now) - COUNTER_RETENTION


@dataclass(frozen=True, slots=True)
class CounterTotals:
    """A receiver's counters summed over the windows (histogram: last hour)."""

    receiver: str
    attempts_hour: int
    successes_hour: int
    attempts_day: int
    successes_day: int
    histogram_hour: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HealthRow:
    """A receiver's health row."""

    receiver: str
    consecutive_failures: int
    last_error: str | None
    last_error_at: datetime | None
    last_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class PendingRow:
    """A receiver's backlog: PENDING or IN_FLIGHT pushes and the oldest one's creation."""

    receiver: str
    pending: int
    oldest_pending_at: datetime | None


_NO_HISTOGRAM = (0,) * HISTOGRAM_SIZE


def assemble_stats(
    receivers: Iterable[str],
    totals: Iterable[CounterTotals],
    health: Iterable[HealthRow],
    pending: Iterable[PendingRow],
    *,
    only: str | None = None,
) -> list[ReceiverStats]:
    """One :class:`ReceiverStats` per receiver named in any of the inputs (or just ``only``),
    ordered by receiver."""
    totals_by = {row.receiver: row for row in totals}
    health_by = {row.receiver: row for row in health}
    pending_by = {row.receiver: row for row in pending}
    names = {*receivers, *totals_by, *health_by, *pending_by}
    if only is not None:
        names &= {only}
    rows: list[ReceiverStats] = []
    for name in sorted(names):
        total = totals_by.get(name) or CounterTotals(name, 0, 0, 0, 0, _NO_HISTOGRAM)
        state = health_by.get(name) or HealthRow(name, 0, None, None, None)
        backlog = pending_by.get(name) or PendingRow(name, 0, None)
        rows.append(
            ReceiverStats(
                receiver=name,
                attempts_hour=total.attempts_hour,
                successes_hour=total.successes_hour,
                attempts_day=total.attempts_day,
                successes_day=total.successes_day,
                duration_p50_ms=percentile(total.histogram_hour, 0.5),
                duration_p99_ms=percentile(total.histogram_hour, 0.99),
                pending=backlog.pending,
                oldest_pending_at=backlog.oldest_pending_at,
                consecutive_failures=state.consecutive_failures,
                last_error=state.last_error,
                last_error_at=state.last_error_at,
                last_attempt_at=state.last_attempt_at,
            )
        )
    return rows


def applied_health(current: HealthRow | None, delta: ReceiverDelta) -> HealthRow:
    """A receiver's health row after a batch (``delta``: any of its deltas) is applied; the
    SQL stores run the same rule in their upsert."""
    consecutive = 0 if current is None else current.consecutive_failures
    consecutive = delta.trailing_failures + (0 if delta.reset else consecutive)
    last_error = None if current is None else current.last_error
    last_error_at = None if current is None else current.last_error_at
    if delta.last_error_at is not None and (
        last_error_at is None or delta.last_error_at >= last_error_at
    ):
        last_error, last_error_at = delta.last_error, delta.last_error_at
    last_attempt_at = delta.last_attempt_at
    if current is not None and current.last_attempt_at is not None:
        last_attempt_at = max(last_attempt_at, current.last_attempt_at)
    return HealthRow(delta.receiver, consecutive, last_error, last_error_at, last_attempt_at)
