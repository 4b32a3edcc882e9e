"""Group commit for accepted jobs: requests that arrive together are stored together.

Each ``POST /fax`` hands its job to :meth:`JobWriter.create` and waits. The first waiter
starts a flush; while that transaction is being committed, later jobs queue up and go into
the next one. An idle server therefore adds no delay, and a busy one pays one commit per
batch instead of one per job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from faxpush.core.errors import FaxpushError
from faxpush.storage.jobs_base import JobRecord, JobStore, NewJob

MAX_BATCH = 200


class JobWriter:
    """Stores jobs in batches; ``duplicate_since`` maps the commit time to the window start."""

    def __init__(
        self,
        jobs: JobStore,
        *,
        clock: Callable[[], datetime],
        duplicate_since: Callable[[datetime], datetime | None],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._jobs = jobs
        self._clock = clock
        self._duplicate_since = duplicate_since
        self._max_batch = max_batch
        self._waiting: list[tuple[NewJob, asyncio.Future[JobRecord]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def create(self, job: NewJob) -> JobRecord:
        """Store ``job``; raises what refused it (DuplicateJobError, StorageError, ...)."""
        future: asyncio.Future[JobRecord] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._write(batch)
        finally:
            self._flushing = None

    async def _write(self, batch: list[tuple[NewJob, asyncio.Future[JobRecord]]]) -> None:
        now = self._clock()
        try:
            outcomes = await self._jobs.create_jobs(
                [job for job, _ in batch], now=now, duplicate_since=self._duplicate_since(now)
            )
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its request was cancelled (client went away)
                continue
            if isinstance(outcome, FaxpushError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def close(self) -> None:
        """Wait for the flush in progress, if any."""
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
