"""Per-receiver attempt counters: what a batch of committed attempts adds to them.

The operator API shows, per receiver origin, attempts and successes over the last hour and
day, p50/p99 attempt duration, and the run of failures since the last success. Scanning the
attempt table for that does not scale, so every store keeps counters that it updates in the
same transaction that records the attempts: one row per receiver and 5-minute bucket (counts
and a duration histogram) and one health row per receiver. This module turns a batch of
attempts into those updates, and reads a percentile back from a histogram; it does no I/O.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from faxpush.core.errors import InputError

BUCKET_SECONDS = 300  # counters per receiver per 5-minute bucket
# Histogram columns h00..h12: h_i counts durations <= DURATION_BOUNDS_MS[i], h12 the rest.
DURATION_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
HISTOGRAM_SIZE = len(DURATION_BOUNDS_MS) + 1
HISTOGRAM_COLUMNS = tuple(f"h{index:02d}" for index in range(HISTOGRAM_SIZE))


@dataclass(frozen=True, slots=True)
class AttemptSample:
    """One committed attempt, as the counters see it."""

    receiver: str  # receiver_key(): scheme://host:port
    started_at: datetime
    duration_ms: float
    success: bool  # the attempt's verdict is DELIVERED
    error: str | None  # the human summary of a failure


@dataclass(frozen=True, slots=True)
class ReceiverDelta:
    """What one batch adds to one receiver's counters in one bucket.

    ``reset``, ``trailing_failures`` and ``last_*`` describe the receiver's whole batch and are
    the same on each of its deltas: the store applies them once to the receiver's health row
    (``consecutive = trailing_failures`` after a reset, else ``consecutive + trailing_failures``).
    """

    receiver: str
    bucket_start: datetime
    attempts: int
    successes: int
    histogram: tuple[int, ...]  # HISTOGRAM_SIZE counts
    reset: bool  # a success happened in this batch: consecutive = trailing_failures
    trailing_failures: int  # failures after the batch's last success (all if none)
    last_error: str | None
    last_error_at: datetime | None
    last_attempt_at: datetime


def bucket_start(moment: datetime) -> datetime:
    """The start of the :data:`BUCKET_SECONDS` bucket holding ``moment`` (aware, UTC)."""
    return datetime.fromtimestamp(_bucket_seconds(moment), UTC)


def _bucket_seconds(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"{moment.isoformat()} has no time zone; pass an aware UTC time")
    seconds = math.floor(moment.timestamp())
    return seconds - seconds % BUCKET_SECONDS


def histogram_index(duration_ms: float) -> int:
    """The histogram column a duration is counted in."""
    return bisect.bisect_left(DURATION_BOUNDS_MS, duration_ms)


def receiver_deltas(samples: Sequence[AttemptSample]) -> list[ReceiverDelta]:
    """One delta per (receiver, bucket) of ``samples``, ordered by receiver then bucket.

    ``samples`` are taken in commit order: the failures counted as trailing are those after
    the last success in that order.
    """
    by_receiver: dict[str, list[AttemptSample]] = {}
    for sample in samples:
        by_receiver.setdefault(sample.receiver, []).append(sample)
    deltas: list[ReceiverDelta] = []
    for receiver in sorted(by_receiver):
        group = by_receiver[receiver]
        deltas.extend(_receiver_group(receiver, group))
    return deltas


def _receiver_group(receiver: str, group: list[AttemptSample]) -> list[ReceiverDelta]:
    reset = False
    trailing = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_attempt_at = group[0].started_at
    # bucket (epoch seconds) -> [attempts, successes, h00, ..., h12]; finish calls this for
    # every batch, so the per-attempt work stays small
    buckets: dict[int, list[int]] = {}
    bounds = DURATION_BOUNDS_MS
    for sample in group:
        started_at = sample.started_at
        last_attempt_at = max(last_attempt_at, started_at)
        if sample.success:
            reset, trailing = True, 0
        else:
            trailing += 1
            if last_error_at is None or started_at >= last_error_at:
                last_error, last_error_at = sample.error, started_at
        start = _bucket_seconds(started_at)
        counts = buckets.get(start)
        if counts is None:
            counts = buckets[start] = [0] * (2 + HISTOGRAM_SIZE)
        counts[0] += 1
        counts[1] += sample.success
        counts[2 + bisect.bisect_left(bounds, sample.duration_ms)] += 1
    return [
        ReceiverDelta(
            receiver=receiver,
            bucket_start=datetime.fromtimestamp(start, UTC),
            attempts=counts[0],
            successes=counts[1],
            histogram=tuple(counts[2:]),
            reset=reset,
            trailing_failures=trailing,
            last_error=last_error,
            last_error_at=last_error_at,
            last_attempt_at=last_attempt_at,
        )
        for start, counts in sorted(buckets.items())
    ]


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q``-th attempt (0 < q <= 1), in ms; for
    the overflow bucket, the last bound. None for an empty histogram."""
    if not 0 < q <= 1:
        raise InputError(f"a percentile must be in (0, 1], got {q}")
    total = sum(histogram)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return float(DURATION_BOUNDS_MS[min(index, len(DURATION_BOUNDS_MS) - 1)])
    return float(DURATION_BOUNDS_MS[-1])


def merge_histograms(histograms: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The column-wise sum of ``histograms`` (e.g. of a receiver's buckets in a window)."""
    merged = [0] * HISTOGRAM_SIZE
    for histogram in histograms:
        for index, count in enumerate(histogram):
            merged[index] += count
    return tuple(merged)


__all__ = [
    "BUCKET_SECONDS",
    "DURATION_BOUNDS_MS",
    "HISTOGRAM_COLUMNS",
    "HISTOGRAM_SIZE",
    "AttemptSample",
    "ReceiverDelta",
    "bucket_start",
    "histogram_index",
    "merge_histograms",
    "percentile",
    "receiver_deltas",
]
