"""Attempt time limits kept by one timer per worker instead of several per request.

aiohttp enforces ``sock_read`` by cancelling and re-arming a timer handle whenever bytes
arrive, and its ``total`` by arming one more; at thousands of pushes a second these heap
operations cost 10-15 µs of event-loop time per push, about a tenth of a push's CPU
(measured in ``docs/benchmarks.md``, Dispatch).

Here an attempt registers a :class:`Watch` (a deadline in a set) and moves it forward as
the answer arrives; one loop timer, set for the earliest deadline registered, cancels the
attempts whose time is up. Pushes end long before their deadlines, so that timer fires
about once per deadline length, not once per push. An expired watch turns the cancellation
into :class:`TimeoutError` (or :class:`ReceiverSilentError`) where the watch is left, as
:func:`asyncio.timeout` does; a cancellation from elsewhere still propagates.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType

# A timer may fire this much before the deadline it was set for (asyncio's clock resolution
# is far finer); counting such a deadline as reached avoids re-arming for a microsecond.
_EARLY = 0.001


class ReceiverSilentError(TimeoutError):
    """The receiver sent nothing for the read time limit."""


class Deadlines:
    """The deadlines of every attempt under way on one event loop."""

    __slots__ = ("_loop", "_timer", "_timer_at", "_watches")

    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def watch(self, total: float) -> Watch:
        """A limit of ``total`` seconds from now for the current task, active inside
        ``with``; :meth:`Watch.silence` adds a shorter limit on waiting for bytes."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or reused on a new event loop
            self._loop, self._timer, self._timer_at = loop, None, math.inf
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline watch needs a running task")
        return Watch(self, loop, task, loop.time() + total)

    @property
    def watching(self) -> int:
        """How many attempts are being watched."""
        return len(self._watches)

    def _add(self, watch: Watch) -> None:
        self._watches.add(watch)
        self._arm(watch.when)

    def _discard(self, watch: Watch) -> None:
        # The timer stays set when the last watch goes: firing once for nothing is cheaper
        # than cancelling and re-arming it for every push of a worker that sends one at a time.
        self._watches.discard(watch)

    def _arm(self, when: float) -> None:
        if when >= self._timer_at or self._loop is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = self._loop.call_at(when, self._expire), when

    def _expire(self) -> None:
        assert self._loop is not None
        self._timer, self._timer_at = None, math.inf
        now = self._loop.time() + _EARLY
        upcoming = math.inf
        for watch in self._watches:
            if watch.expired:
                continue
            if watch.when <= now:
                watch.expired = True
                watch.task.cancel()
            elif watch.when < upcoming:
                upcoming = watch.when
        if upcoming < math.inf:
            self._arm(upcoming)


class Watch:
    """One attempt's deadline; see :meth:`Deadlines.watch`."""

    __slots__ = ("_end", "_loop", "_owner", "expired", "silent", "task", "when")

    def __init__(
        self,
        owner: Deadlines,
        loop: asyncio.AbstractEventLoop,
        task: asyncio.Task[object],
        end: float,
    ) -> None:
        self._owner = owner
        self._loop = loop
        self._end = end
        self.task = task
        self.when = end  # the earlier of the total deadline and the silence limit
        self.silent = False  # True while ``when`` is the silence limit
        self.expired = False

    def silence(self, seconds: float) -> None:
        """From now on, also end the attempt if ``seconds`` pass without this being called
        again (call it before each wait for bytes)."""
        limit = self._loop.time() + seconds
        self.silent = limit < self._end
        self.when = limit if self.silent else self._end
        self._owner._arm(self.when)  # only re-arms when this is now the earliest deadline

    def __enter__(self) -> Watch:
        self._owner._add(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._owner._discard(self)
        if not self.expired:
            return
        if self.task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            if self.silent:
                raise ReceiverSilentError() from exc
            raise TimeoutError() from exc
