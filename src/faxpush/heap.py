"""Collector tuning for long-running processes: `faxpush worker` and `faxpush listen`."""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 10_000


def settle_heap() -> None:
    """Tune the garbage collector for a long-running process, once it has started.

    Every push allocates a few dozen to a few hundred short-lived objects; with the default
    thresholds the collector runs a full collection over the whole start-up heap (imports,
    aiohttp or uvicorn, the SQL texts) every ~70,000 allocations. Freezing what exists after
    start-up keeps it out of every later collection, and a higher first threshold makes young
    collections rarer. Measured: bench/dispatch.py 3,153-3,380 pushes/s without, 3,499-3,913
    with; the receiver under bench/receive.py's load, server CPU per push without and with
    (three paired runs each): JSON 135-148 and 119-132 µs, XML 177-184 and 162-172 µs.
    It changes process-wide state, so the CLI commands call it and library users decide for
    themselves.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])


__all__ = ["YOUNG_THRESHOLD", "settle_heap"]
