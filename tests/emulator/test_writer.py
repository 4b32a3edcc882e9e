"""Group commit of accepted jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from faxpush.core.errors import FaxpushError, StorageError
from faxpush.emulator.writer import JobWriter
from faxpush.storage.jobs_base import DuplicateJobError, JobRecord, NewJob
from faxpush.storage.memory import MemoryStore
from faxpush.storage.memory_jobs import MemoryJobStore

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


class CountingJobs(MemoryJobStore):
    """A memory job store that records its batches and can be made to fail."""

    def __init__(self) -> None:
        super().__init__(MemoryStore())
        self.batches: list[int] = []
        self.failure: Exception | None = None

    async def create_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, duplicate_since: datetime | None = None
    ) -> list[JobRecord | FaxpushError]:
        self.batches.append(len(jobs))
        await asyncio.sleep(0.01)  # a commit takes a while; meanwhile more jobs arrive
        if self.failure is not None:
            raise self.failure
        return await super().create_jobs(jobs, now=now, duplicate_since=duplicate_since)


def _job(n: int, key: str | None = None) -> NewJob:
    return NewJob(f"FJ{n:020d}", "C1", "alice", "{}", NOW, dedup_key=key)


def _writer(jobs: CountingJobs) -> JobWriter:
    return JobWriter(
        jobs, clock=lambda: NOW, duplicate_since=lambda now: now - timedelta(minutes=5)
    )


async def test_jobs_arriving_together_share_a_commit() -> None:
    jobs = CountingJobs()
    writer = _writer(jobs)

    records = await asyncio.gather(*(writer.create(_job(n)) for n in range(120)))

    assert [r.job_id for r in records] == [_job(n).job_id for n in range(120)]
    assert sum(jobs.batches) == 120
    assert len(jobs.batches) <= 3
    assert (await writer.create(_job(500))).job_id == _job(500).job_id  # idle: a batch of one
    assert jobs.batches[-1] == 1


async def test_each_waiter_gets_its_own_outcome() -> None:
    jobs = CountingJobs()
    writer = _writer(jobs)

    outcomes = await asyncio.gather(
        writer.create(_job(1, key="k")), writer.create(_job(2, key="k")), return_exceptions=True
    )

    assert isinstance(outcomes[0], JobRecord)
    assert isinstance(outcomes[1], DuplicateJobError)
    assert outcomes[1].job_id == _job(1).job_id


async def test_a_failed_commit_fails_every_waiter_and_the_writer_recovers() -> None:
    jobs = CountingJobs()
    writer = _writer(jobs)
    jobs.failure = StorageError("disk full")

    outcomes = await asyncio.gather(
        *(writer.create(_job(n)) for n in range(5)), return_exceptions=True
    )

    assert all(isinstance(o, StorageError) for o in outcomes)
    jobs.failure = None
    assert (await writer.create(_job(9))).job_id == _job(9).job_id
    await writer.close()


async def test_a_cancelled_request_does_not_disturb_the_batch() -> None:
    jobs = CountingJobs()
    writer = _writer(jobs)
    first = asyncio.create_task(writer.create(_job(1)))
    second = asyncio.create_task(writer.create(_job(2)))
    await asyncio.sleep(0)
    first.cancel()

    assert (await second).job_id == _job(2).job_id
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await jobs.get_job("C1", _job(1).job_id) is not None  # stored all the same
