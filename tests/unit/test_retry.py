from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from faxpush.core.retry import (
    DEFAULT_DELAYS,
    RetrySchedule,
    backoff_delay,
    clamp_retry_after,
    next_attempt_at,
    parse_retry_after,
)

NOW = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)


def test_default_schedule_spans_about_three_days() -> None:
    schedule = RetrySchedule()
    assert schedule.max_attempts == 11
    assert schedule.delays[0] == 0
    assert 2.5 * 86400 < schedule.total_seconds < 3.5 * 86400


@pytest.mark.parametrize(("rng", "factor"), [(0.0, 0.8), (0.5, 1.0), (1.0, 1.2)])
def test_jitter_is_plus_minus_twenty_percent(rng: float, factor: float) -> None:
    schedule = RetrySchedule()
    assert schedule.delay_before(2, rng=lambda: rng) == pytest.approx(30 * factor)


def test_delay_before_outside_schedule_is_none() -> None:
    schedule = RetrySchedule((0, 10))
    assert schedule.delay_before(0) is None
    assert schedule.delay_before(3) is None


def test_parse_schedule_units() -> None:
    schedule = RetrySchedule.parse("0, 30s, 2m, 1h, 1d, 5")
    assert schedule.delays == (0, 30, 120, 3600, 86400, 5)


@pytest.mark.parametrize("text", ["", "1,x", "-1", "2w"])
def test_parse_schedule_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="retry"):
        RetrySchedule.parse(text)


def test_retry_after_seconds_and_date() -> None:
    assert parse_retry_after("120", now=NOW) == 120
    assert parse_retry_after("Mon, 06 May 2024 12:01:00 GMT", now=NOW) == 60
    assert parse_retry_after("Mon, 06 May 2024 11:00:00 GMT", now=NOW) == 0
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("99999999999", now=NOW) == 7 * 86400


@pytest.mark.parametrize(
    ("scheduled", "requested", "expected"),
    [(60, None, 60), (60, 10, 60), (60, 90, 90), (60, 1000, 120), (60, 120, 120)],
)
def test_retry_after_clamped_between_one_and_two_times(
    scheduled: float, requested: float | None, expected: float
) -> None:
    assert clamp_retry_after(scheduled, requested) == expected


def test_next_attempt_follows_schedule_then_gives_up() -> None:
    schedule = RetrySchedule((0, 30, 120), jitter=0)
    assert next_attempt_at(schedule, attempts_made=1, now=NOW) == NOW + timedelta(seconds=30)
    assert next_attempt_at(schedule, attempts_made=2, now=NOW) == NOW + timedelta(seconds=120)
    assert next_attempt_at(schedule, attempts_made=3, now=NOW) is None


def test_next_attempt_honours_retry_after_within_clamp() -> None:
    schedule = RetrySchedule((0, 30), jitter=0)
    got = next_attempt_at(schedule, attempts_made=1, now=NOW, retry_after="45")
    assert got == NOW + timedelta(seconds=45)
    got = next_attempt_at(schedule, attempts_made=1, now=NOW, retry_after="3600")
    assert got == NOW + timedelta(seconds=60)


def test_max_attempts_override_shortens_and_extends() -> None:
    schedule = RetrySchedule((0, 5, 10), jitter=0)
    assert next_attempt_at(schedule, attempts_made=1, now=NOW, max_attempts=1) is None
    extended = next_attempt_at(schedule, attempts_made=4, now=NOW, max_attempts=6)
    assert extended == NOW + timedelta(seconds=10)


def test_default_delays_are_increasing() -> None:
    assert list(DEFAULT_DELAYS) == sorted(DEFAULT_DELAYS)


def test_backoff_doubles_to_its_ceiling_within_half_and_all_of_it() -> None:
    lows = [backoff_delay(n, first=0.05, ceiling=5.0, rng=lambda: 0.0) for n in range(1, 10)]
    highs = [backoff_delay(n, first=0.05, ceiling=5.0, rng=lambda: 1.0) for n in range(1, 10)]
    assert highs == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert lows == [high / 2 for high in highs]
