"""How the dispatcher lives through a store that fails: back off, and say so once.

When the database is down or the disk is full, every claim fails at once. Retried at the
pace of the feeder's idle wait, a worker once logged 19,847 warnings in 48 s and kept the
database busy with hopeless transactions. An :class:`Outage` turns a run of failures of one
operation into one warning when it starts and one info line when the operation works again,
and hands out the delays between tries: capped exponential backoff with jitter.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from faxpush.core.retry import backoff_delay

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 5.0


class Outage:
    """The failures of one repeated operation (``what``, e.g. "claiming pushes")."""

    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        *,
        first_delay: float = FIRST_DELAY_S,
        max_delay: float = MAX_DELAY_S,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self._logger = logger
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._rng = rng
        self._clock = clock
        self._failures = 0
        self._since = 0.0

    @property
    def failing(self) -> bool:
        """Whether the last try failed."""
        return self._failures > 0

    def failed(self, error: Exception) -> float:
        """Note a failure; return how long to wait before the next try, in seconds.

        The first failure of a run is logged as a warning; the others are not logged."""
        if self._failures == 0:
            self._since = self._clock()
            self._logger.warning(
                "%s failed; trying again with backoff (up to %.0f s apart): %s",
                self.what,
                self._max_delay,
                error,
            )
        self._failures += 1
        return backoff_delay(
            self._failures, first=self._first_delay, ceiling=self._max_delay, rng=self._rng
        )

    def succeeded(self) -> None:
        """Note a success; logs once when it ends a run of failures."""
        if self._failures:
            self._logger.info(
                "%s works again after %d failed tries in %.1f s",
                self.what,
                self._failures,
                self._clock() - self._since,
            )
            self._failures = 0
