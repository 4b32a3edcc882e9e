"""Group commit: writes that arrive together are stored in one transaction.

Each caller hands its item to :meth:`GroupCommit.submit` and waits. The first waiter starts a
flush; while that transaction is being committed, later items queue up and go into the next
one. An idle store therefore adds no delay, and a busy one pays one commit (one fsync) per
batch instead of one per item. A caller's 2xx waits for the commit that holds its item, so
nothing is answered before it is on disk.

Used by the emulator's job writer and the SQLite inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Stores one batch in one transaction: one outcome per item, in order (an exception in place
# of a result fails that item's caller alone; a raised one fails the whole batch).
WriteBatch = Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]]


class GroupCommit(Generic[Item, Result]):
    """Batches of at most ``max_batch`` items, each written by ``write_batch``."""

    def __init__(self, write_batch: WriteBatch[Item, Result], *, max_batch: int) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.batches = 0  # batches committed, for tests and diagnostics

    async def submit(self, item: Item) -> Result:
        """Store ``item`` with the next batch; returns its outcome once committed.

        A cancelled caller cancels only its own wait; the batch is written regardless.
        """
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def close(self) -> None:
        """Wait for the flush in progress, if any."""
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._write(batch)
        finally:
            self._flushing = None

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            outcomes = await self._write_batch([item for item, _ in batch])
        except BaseException as exc:  # every waiter must hear of the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller was cancelled (a client went away)
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


__all__ = ["GroupCommit", "WriteBatch"]
