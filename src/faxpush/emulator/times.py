"""Timestamps and durations of a job request (``jobValid``, ``reportPurgeTs``).

Every instant is kept in UTC. A timestamp whose offset moves it outside years 1-9999, a
duration too long for a ``timedelta`` and a validity ending after :data:`LATEST_VALIDITY_END`
are input errors (ValueError here, 400 at the API), not arithmetic overflows in planning.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

DEFAULT_JOB_VALIDITY: Final = timedelta(days=30)
LATEST_VALIDITY_END: Final = datetime(9999, 1, 1, tzinfo=UTC)
"""A job's validity must end before this, so that planning its calls cannot overflow."""
_DURATION: Final = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?"
)


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp that carries a time zone (Z or an offset), in UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 timestamp such as 2024-05-06T09:00:00+02:00"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{value!r} has no time zone; add Z or an offset such as +02:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} falls outside years 1-9999 once converted to UTC") from None


def parse_duration(value: str) -> timedelta | None:
    """An ISO 8601 duration (``PT80M``, ``P1DT2H``); a month is 30 days, a year 365.

    None when ``value`` is not a duration at all; ValueError when it is one too long for
    any job (beyond :data:`LATEST_VALIDITY_END`)."""
    match = _DURATION.fullmatch(value)
    if match is None or value in ("P", "PT") or value.endswith("T"):
        return None
    try:
        years, months, weeks, days, hours, minutes = (int(g or 0) for g in match.groups()[:6])
        seconds = float((match.group(7) or "0").replace(",", "."))
        return timedelta(
            days=years * 365 + months * 30 + weeks * 7 + days,
            hours=hours,
            minutes=minutes,
            seconds=seconds,
        )
    except (OverflowError, ValueError):  # ValueError: more digits than int() converts
        raise ValueError(too_late("give a shorter duration")) from None


def too_late(fix: str) -> str:
    """The problem of a validity that ends too late, with how to fix it."""
    return f"the job validity must end before {LATEST_VALIDITY_END:%Y-%m-%dT%H:%M:%SZ}; {fix}"


__all__ = [
    "DEFAULT_JOB_VALIDITY",
    "LATEST_VALIDITY_END",
    "parse_duration",
    "parse_timestamp",
    "too_late",
]
