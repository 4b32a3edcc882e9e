"""asyncpg's pool warnings while PostgreSQL is away, kept to one line a minute."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from faxpush._throttle import Throttle

POOL_LOGGER = "asyncpg.pool"
POOL_FLOOR_LOG_INTERVAL_S = 60.0  # asyncpg's own pause between reconnects grows to 60 s
_POOL_FLOOR_MESSAGE = "Failed to restore the pool connection floor"


class PoolFloorLogFilter(logging.Filter):
    """Keeps asyncpg's "Failed to restore the pool connection floor; retrying" warnings to
    one line without traceback per ``interval`` seconds; passes every other record as is.

    While the server is away, each pool logs that warning, with a full traceback, at every
    try to reconnect its idle connection (about ten a worker in 30 s), on top of the
    dispatcher's own one warning per outage. The line that gets through names the error
    and says how many were left out before it.
    """

    def __init__(
        self,
        interval: float = POOL_FLOOR_LOG_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._throttle = Throttle(interval, clock=clock)

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith(_POOL_FLOOR_MESSAGE)):
            return True
        left_out = self._throttle.admit()
        if left_out is None:
            return False
        message = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            message += f" ({type(error).__name__}: {' '.join(str(error).split())})"
        if left_out:
            message += f"; {left_out} more like it since the last one, not shown"
        record.msg, record.args = message, ()
        record.exc_info = record.exc_text = None
        return True


def quiet_pool_floor_warnings() -> None:
    """Install :class:`PoolFloorLogFilter` on asyncpg's pool logger, once per process."""
    pool_logger = logging.getLogger(POOL_LOGGER)
    if not any(isinstance(found, PoolFloorLogFilter) for found in pool_logger.filters):
        pool_logger.addFilter(PoolFloorLogFilter())
