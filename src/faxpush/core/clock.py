"""The wall clock the engine, the emulator and the receiver read, as one replaceable function.

Classes that read the time take a ``clock: Clock = utcnow`` so that tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


__all__ = ["Clock", "utcnow"]
