"""core.receiver_stats: counter deltas from committed attempts, buckets and percentiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from faxpush.core.errors import InputError
from faxpush.core.receiver_stats import (
    BUCKET_SECONDS,
    DURATION_BOUNDS_MS,
    HISTOGRAM_SIZE,
    AttemptSample,
    bucket_start,
    histogram_index,
    merge_histograms,
    percentile,
    receiver_deltas,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _sample(
    receiver: str, seconds: float, duration: float, *, ok: bool, error: str | None = None
) -> AttemptSample:
    return AttemptSample(receiver, T0 + timedelta(seconds=seconds), duration, ok, error)


def test_bucket_start_floors_to_five_minutes_in_utc() -> None:
    assert bucket_start(T0 + timedelta(minutes=4, seconds=59.9)) == T0
    assert bucket_start(T0 + timedelta(minutes=5)) == T0 + timedelta(seconds=BUCKET_SECONDS)
    assert bucket_start(T0 - timedelta(microseconds=1)) == T0 - timedelta(minutes=5)
    east = timezone(timedelta(hours=2))
    assert bucket_start(datetime(2024, 5, 1, 14, 3, tzinfo=east)) == T0
    with pytest.raises(InputError, match="time zone"):
        bucket_start(datetime(2024, 5, 1, 12, 0))  # no time zone: refused


def test_histogram_index_counts_a_bound_in_its_own_bucket() -> None:
    assert histogram_index(0) == 0
    assert histogram_index(5) == 0
    assert histogram_index(5.01) == 1
    assert histogram_index(30_000) == len(DURATION_BOUNDS_MS) - 1
    assert histogram_index(30_000.5) == HISTOGRAM_SIZE - 1


def test_percentile_is_the_bound_of_the_bucket_holding_the_rank() -> None:
    histogram = [0] * HISTOGRAM_SIZE
    assert percentile(histogram, 0.5) is None
    histogram[0], histogram[4] = 98, 2  # 98 within 5 ms, 2 within 100 ms
    assert percentile(histogram, 0.5) == 5.0
    assert percentile(histogram, 0.98) == 5.0
    assert percentile(histogram, 0.99) == 100.0
    assert percentile(histogram, 1.0) == 100.0
    overflow = [0] * (HISTOGRAM_SIZE - 1) + [3]
    assert percentile(overflow, 0.5) == float(DURATION_BOUNDS_MS[-1])
    for bad in (0, -0.1, 1.5):
        with pytest.raises(InputError):
            percentile(histogram, bad)


def test_merge_histograms() -> None:
    one = (1,) + (0,) * (HISTOGRAM_SIZE - 1)
    assert merge_histograms([one, one]) == (2,) + (0,) * (HISTOGRAM_SIZE - 1)
    assert merge_histograms([]) == (0,) * HISTOGRAM_SIZE


def test_deltas_per_receiver_and_bucket_carry_the_group_health() -> None:
    samples = [
        _sample("b", 0, 3, ok=False, error="refused"),
        _sample("a", 10, 3, ok=True),
        _sample("a", 20, 60, ok=False, error="HTTP 503"),
        _sample("a", 400, 20_000, ok=False, error="timeout"),  # the next bucket
        _sample("b", 30, 3, ok=False, error="refused again"),
    ]
    deltas = receiver_deltas(samples)

    assert [(d.receiver, d.bucket_start) for d in deltas] == [
        ("a", T0),
        ("a", T0 + timedelta(minutes=5)),
        ("b", T0),
    ]
    first, second, b = deltas
    assert (first.attempts, first.successes) == (2, 1)
    assert (first.histogram[0], first.histogram[4], sum(first.histogram)) == (1, 1, 2)
    assert (second.attempts, second.successes, second.histogram[11]) == (1, 0, 1)
    for delta in (first, second):  # the group's health, on each of its deltas
        assert (delta.reset, delta.trailing_failures) == (True, 2)
        assert (delta.last_error, delta.last_error_at) == ("timeout", T0 + timedelta(seconds=400))
        assert delta.last_attempt_at == T0 + timedelta(seconds=400)
    assert (b.reset, b.trailing_failures, b.attempts) == (False, 2, 2)
    assert (b.last_error, b.last_attempt_at) == ("refused again", T0 + timedelta(seconds=30))


def test_a_success_last_ends_the_run() -> None:
    (delta,) = receiver_deltas(
        [_sample("a", 0, 1, ok=False, error="x"), _sample("a", 1, 1, ok=True)]
    )
    assert (delta.reset, delta.trailing_failures, delta.last_error) == (True, 0, "x")
    assert receiver_deltas([]) == []
