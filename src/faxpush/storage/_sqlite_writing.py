"""The SQLite store's one writing path: the store's thread until a store process writes.

Without a store process every write runs on the store's thread connection. With one, the
first write hands over: the thread connection stops writing (``PRAGMA query_only``, once
the work queued on it has run) and the process starts; from then on every write runs in
the process. Migrations that come before the first write run on the thread, which is still
the only writer then. A write called while the hand-over or the start is under way waits in
a task of its own, so that a cancelled caller cannot keep it from being sent, and after the
write called before it, so that writes commit in the order of the calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from faxpush._db.sqlite import SqliteThread
from faxpush.storage import _sqlite_hot as hot
from faxpush.storage._sqlite_process import SqliteProcess

T = TypeVar("T")


class WritingPath:
    """Runs ``@sqlite_work`` functions on the one writing connection; see the module
    docstring."""

    def __init__(self, thread: SqliteThread, process: SqliteProcess | None) -> None:
        self._thread = thread
        self._process = process
        self._handover: asyncio.Task[None] | None = None  # the thread stops writing
        self._waiting: set[asyncio.Task[Any]] = set()  # writes waiting for the process
        self._last_waiting: asyncio.Task[Any] | None = None  # the newest of them

    async def write(self, action: str, work: Callable[..., T], *args: Any) -> T:
        """``work(connection, *args)`` in one write transaction; commits even if the
        caller is cancelled once it is called."""
        name = hot.work_name(work)  # refuses unmarked work on either path
        process = self._process
        if process is None or (self._handover is None and hot.commits_itself(work)):
            write = not hot.commits_itself(work)
            return await self._thread.run(action, lambda conn: work(conn, *args), write=write)
        if self._handover is None:
            self._handover = asyncio.ensure_future(
                self._thread.refuse_writes("the store process writes for this store")
            )
        earlier = self._last_waiting
        if self._handover.done() and process.running and (earlier is None or earlier.done()):
            sent: T = await process.run(action, name, *args)  # sent before it first waits
            return sent
        task = asyncio.ensure_future(self._when_started(process, action, name, args, earlier))
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)
        self._last_waiting = task
        return await asyncio.shield(task)

    def running_process(self) -> SqliteProcess | None:
        """The store process, when it is the one writing and is up; else None."""
        process, handover = self._process, self._handover
        if process is not None and handover is not None and handover.done() and process.running:
            return process
        return None

    async def close(self) -> None:
        """Wait for the writes under way, then stop the process (the thread is the
        store's to close)."""
        waiting = [*self._waiting, *([self._handover] if self._handover else [])]
        await asyncio.gather(*waiting, return_exceptions=True)  # their callers report
        if self._process is not None:
            await self._process.close()

    async def _when_started(
        self,
        process: SqliteProcess,
        action: str,
        name: str,
        args: tuple[Any, ...],
        earlier: asyncio.Task[Any] | None,
    ) -> Any:
        assert self._handover is not None
        await self._handover
        if earlier is not None:
            await asyncio.wait([earlier])  # its outcome is its own caller's to hear
        return await process.run(action, name, *args)


__all__ = ["WritingPath"]
