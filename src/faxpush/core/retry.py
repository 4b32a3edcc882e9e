"""The retry schedule: an explicit list of delays, jitter, and ``Retry-After`` clamping.

Attempt 1 waits ``delays[0]`` (normally 0: immediately), attempt n waits ``delays[n-1]``
after attempt n-1 failed. When the list is used up the push is given up. Pure functions;
randomness is injected so tests can pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

DEFAULT_DELAYS: tuple[float, ...] = (
    0,
    30,
    2 * 60,
    10 * 60,
    30 * 60,
    60 * 60,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    24 * 3600,
    24 * 3600,
)  # about 2.9 days from the first to the last attempt

MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Delays in seconds before each attempt, with +/- ``jitter`` (a fraction) applied."""

    delays: tuple[float, ...] = DEFAULT_DELAYS
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not self.delays:
            raise ValueError("a retry schedule needs at least one delay (use 0 for 'at once')")
        if any(d < 0 for d in self.delays):
            raise ValueError("retry delays must be zero or positive seconds")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction between 0 and 1, e.g. 0.2 for +/-20 %")

    @classmethod
    def parse(cls, text: str, *, jitter: float = 0.2) -> RetrySchedule:
        """Parse ``"0,30s,2m,10m,1h,1d"`` (bare numbers are seconds)."""
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        delays: list[float] = []
        for raw in text.split(","):
            item = raw.strip().lower()
            if not item:
                continue
            factor = units.get(item[-1], 0)
            number = item[:-1] if factor else item
            try:
                delays.append(float(number) * (factor or 1))
            except ValueError:
                raise ValueError(
                    f"retry delay {raw.strip()!r} is not a number with an optional unit "
                    "s, m, h or d (e.g. '0,30s,2m,1h')"
                ) from None
        return cls(tuple(delays), jitter)

    @property
    def max_attempts(self) -> int:
        return len(self.delays)

    @property
    def total_seconds(self) -> float:
        return sum(self.delays)

    def delay_before(
        self, attempt: int, *, rng: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before 1-based ``attempt``, jittered; None when past the schedule."""
        if attempt < 1 or attempt > len(self.delays):
            return None
        base = self.delays[attempt - 1]
        return base * (1 + self.jitter * (2 * rng() - 1))


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds requested by a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


def clamp_retry_after(scheduled: float, requested: float | None) -> float:
    """Honour ``Retry-After`` within [1x, 2x] the scheduled delay.

    A receiver may ask us to wait longer than planned, but never to hammer it sooner, and
    never to park a report for much longer than the schedule intends.
    """
    if requested is None:
        return scheduled
    return min(max(requested, scheduled), 2 * scheduled)


def next_attempt_at(
    schedule: RetrySchedule,
    *,
    attempts_made: int,
    now: datetime,
    retry_after: str | None = None,
    max_attempts: int | None = None,
    rng: Callable[[], float] = random.random,
) -> datetime | None:
    """When to try again after ``attempts_made`` attempts, or None to give up."""
    limit = schedule.max_attempts if max_attempts is None else min(max_attempts, 10_000)
    if attempts_made >= limit:
        return None
    delays: Sequence[float] = schedule.delays
    if attempts_made + 1 <= len(delays):
        delay = schedule.delay_before(attempts_made + 1, rng=rng)
    else:  # an explicit max_attempts longer than the schedule repeats its last delay
        delay = RetrySchedule((delays[-1],), schedule.jitter).delay_before(1, rng=rng)
    assert delay is not None
    delay = clamp_retry_after(delay, parse_retry_after(retry_after, now=now))
    return now + timedelta(seconds=delay)


def backoff_delay(
    failures: int, *, first: float, ceiling: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after the ``failures``-th failure in a row (1-based) of an internal
    operation (a database call, not a push): ``first`` doubling per failure up to
    ``ceiling``, jittered between half that value and all of it, so that processes that
    failed together do not all come back together, yet the wait really grows."""
    top = min(ceiling, first * 2.0 ** (failures - 1))
    return top / 2 * (1 + rng())
