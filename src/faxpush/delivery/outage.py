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
from dataclasses import KW_ONLY, dataclass, field

from faxpush.core.retry import backoff_delay

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 5.0


@dataclass(slots=True, eq=False)
class Outage:
    """The failures of one repeated operation (``what``, e.g. "claiming pushes")."""

    what: str
    logger: logging.Logger
    _: KW_ONLY
    first_delay: float = FIRST_DELAY_S
    max_delay: float = MAX_DELAY_S
    rng: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic
    _failures: int = field(default=0, init=False)
    _since: float = field(default=0.0, init=False)

    @property
    def failing(self) -> bool:
        """Whether the last try failed."""
        return self._failures > 0

    def failed(self, error: Exception) -> float:
        """Note a failure; return how long to wait before the next try, in seconds.

        The first failure of a run is logged as a warning; the others are not logged."""
        if self._failures == 0:
            self._since = self.clock()
            self.logger.warning(
                "%s failed; trying again with backoff (up to %.0f s apart): %s",
                self.what,
                self.max_delay,
                error,
            )
        self._failures += 1
        return backoff_delay(
            self._failures, first=self.first_delay, ceiling=self.max_delay, rng=self.rng
        )

    def succeeded(self) -> None:
        """Note a success; logs once when it ends a run of failures."""
        if self._failures:
            self.logger.info(
                "%s works again after %d failed tries in %.1f s",
                self.what,
                self._failures,
                self.clock() - self._since,
            )
            self._failures = 0
