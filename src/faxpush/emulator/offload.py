"""CPU-heavy work of the emulator (large jobs, large reports) in a worker thread, one at a time.

Moving the work off the event loop is not enough on its own: CPython hands the GIL to
whichever thread asks, not fairly, and with three threads each building a 3,000-recipient
report the loop got it so rarely that a small request waited up to 1 s. Taking turns
leaves the loop competing with a single thread: the same request then waited at most
0.1-0.23 s. Heavy requests queue behind each other instead, which costs them nothing in
throughput (the GIL let only one of them run at a time anyway).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class HeavyWork:
    """Runs functions in a worker thread, one after another."""

    def __init__(self) -> None:
        self._turn = asyncio.Lock()

    async def run(self, work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)`` in a worker thread once the previous heavy work is done."""
        async with self._turn:
            return await asyncio.to_thread(work, *args, **kwargs)


__all__ = ["HeavyWork"]
