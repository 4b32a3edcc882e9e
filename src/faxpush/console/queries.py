"""The Pushes page's filters and page cursor, read from query parameters (the same names
as the operator API: ``state``, ``jobId``, ``receiver``, ``since``), and the overview's
figures summed from the receivers' counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from faxpush.core.errors import InputError
from faxpush.storage.json_views import cursor_from_text, encode_cursor, push_filter
from faxpush.storage.operator import PageCursor, ReceiverStats

PAGE_SIZE = 50


def decode_cursor(text: str) -> PageCursor:
    """The page link's cursor; an InputError for a damaged link."""
    cursor = cursor_from_text(text)
    if cursor is None:
        raise InputError("the page link is damaged; go back to the first page")
    return cursor


@dataclass(frozen=True, slots=True)
class Totals:
    """What the overview's tiles show, summed over every receiver's counters."""

    attempts_hour: int
    successes_hour: int
    attempts_day: int
    successes_day: int
    backlog: int
    oldest_pending_at: datetime | None

    @property
    def failures_hour(self) -> int:
        return self.attempts_hour - self.successes_hour

    @property
    def failures_day(self) -> int:
        return self.attempts_day - self.successes_day


def totals(rows: Sequence[ReceiverStats]) -> Totals:
    oldest = [row.oldest_pending_at for row in rows if row.oldest_pending_at is not None]
    return Totals(
        attempts_hour=sum(row.attempts_hour for row in rows),
        successes_hour=sum(row.successes_hour for row in rows),
        attempts_day=sum(row.attempts_day for row in rows),
        successes_day=sum(row.successes_day for row in rows),
        backlog=sum(row.pending for row in rows),
        oldest_pending_at=min(oldest) if oldest else None,
    )


def most_failing(rows: Sequence[ReceiverStats], count: int = 5) -> list[ReceiverStats]:
    """The receivers with the most failed attempts in the last day (none without failures)."""
    failing = [row for row in rows if row.attempts_day > row.successes_day]
    failing.sort(key=lambda row: (row.successes_day - row.attempts_day, row.receiver))
    return failing[:count]


def age_text(seconds: float | None) -> str:
    """A duration as people read it: 42 s, 3 min, 2 h 5 min, 3 d 4 h."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


__all__ = [
    "PAGE_SIZE",
    "Totals",
    "age_text",
    "decode_cursor",
    "encode_cursor",
    "most_failing",
    "push_filter",
    "totals",
]
