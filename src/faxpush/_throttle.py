"""One event per interval, and a count of the others: for messages that come in floods."""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    """Admits at most one event per ``interval`` seconds and counts those it turns away."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next = float("-inf")
        self._left_out = 0

    @property
    def left_out(self) -> int:
        """Events turned away since the last one admitted."""
        return self._left_out

    def admit(self) -> int | None:
        """None when the event is turned away; else how many were turned away before it."""
        now = self._clock()
        if now < self._next:
            self._left_out += 1
            return None
        left_out, self._left_out = self._left_out, 0
        self._next = now + self.interval
        return left_out


__all__ = ["Throttle"]
