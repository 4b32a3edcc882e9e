"""Group commit for accepted jobs: requests that arrive together are stored together.

Each ``POST /fax`` hands its job to :meth:`JobWriter.create` and waits for the transaction
that holds it (:class:`faxpush._db.group_commit.GroupCommit`): an idle server adds no delay,
and a busy one pays one commit per batch instead of one per job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from faxpush._db.group_commit import GroupCommit
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
        self._commits = GroupCommit[NewJob, JobRecord](self._write, max_batch=max_batch)

    async def create(self, job: NewJob) -> JobRecord:
        """Store ``job``; raises what refused it (DuplicateJobError, StorageError, ...)."""
        return await self._commits.submit(job)

    async def _write(self, batch: list[NewJob]) -> list[JobRecord | FaxpushError]:
        now = self._clock()
        return await self._jobs.create_jobs(
            batch, now=now, duplicate_since=self._duplicate_since(now)
        )

    async def close(self) -> None:
        """Wait for the flush in progress, if any."""
        await self._commits.close()
