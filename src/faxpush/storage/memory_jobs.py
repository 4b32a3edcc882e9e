"""The in-process :class:`~faxpush.storage.jobs_base.JobStore`, kept inside a MemoryStore.

The job data is an extension of the :class:`~faxpush.storage.memory.MemoryStore`'s database,
so every handle on that memory database sees the same jobs. :meth:`finish_job` is atomic
in the only sense a single event loop needs: the push is enqueued first (nothing changes if
that fails), and the job is marked finished right after, with no suspension point between
the two, so no other task can observe one without the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from faxpush.core.errors import FaxpushError, StorageError
from faxpush.storage._common import to_micros
from faxpush.storage._memory_records import Sealer
from faxpush.storage._memory_schedule import Sealed
from faxpush.storage.jobs_base import (
    MAX_REPORTS_PER_CALL,
    DuplicateJobError,
    FinishedJob,
    JobRecord,
    JobState,
    Login,
    NewJob,
    OneJobCalls,
)
from faxpush.storage.memory import MemoryStore

_EXTENSION = "faxpush.jobs"


@dataclass(slots=True)
class _JobRow:
    """``record`` without its push credentials: those are kept sealed in ``credentials``."""

    seq: int
    record: JobRecord
    dedup_key: str | None
    credentials: Sealed | None = None


@dataclass(slots=True)
class _JobData:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    logins: dict[str, Login] = field(default_factory=dict)
    jobs: dict[str, _JobRow] = field(default_factory=dict)
    next_seq: int = 1

    def customers_job(self, customer_number: str, job_id: str) -> _JobRow | None:
        """The row of ``job_id`` if it is the customer's (another's is as good as none)."""
        row = self.jobs.get(job_id)
        return row if row is not None and row.record.customer_number == customer_number else None


def _report_order(row: _JobRow) -> tuple[datetime, int]:
    assert row.record.finished_at is not None
    return row.record.finished_at, row.seq


class MemoryJobStore(OneJobCalls):
    """A :class:`~faxpush.storage.jobs_base.JobStore` kept in ``outbox``'s memory database."""

    def __init__(self, outbox: MemoryStore) -> None:
        self._outbox = outbox
        data = outbox.extension(_EXTENSION, _JobData)
        assert isinstance(data, _JobData)
        self._data = data

    def __repr__(self) -> str:
        return f"MemoryJobStore(jobs={len(self._data.jobs)})"

    async def migrate(self) -> None:
        """Nothing to create; present for the protocol."""

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[_JobData]:
        async with self._data.lock:
            yield self._data

    # --- logins -----------------------------------------------------------------------
    async def put_login(self, login: Login) -> None:
        """Insert or replace a login (the first creation time is kept)."""
        async with self._locked() as data:
            existing = data.logins.get(login.login)
            if existing is not None:
                login = replace(login, created_at=existing.created_at)
            data.logins[login.login] = login

    async def get_login(self, login: str) -> Login | None:
        """The login, or None."""
        async with self._locked() as data:
            return data.logins.get(login)

    async def list_logins(self, customer_number: str | None = None) -> list[Login]:
        """Logins by name, of one customer number or of all."""
        async with self._locked() as data:
            return [
                data.logins[name]
                for name in sorted(data.logins)
                if customer_number is None or data.logins[name].customer_number == customer_number
            ]

    # --- jobs -------------------------------------------------------------------------
    async def create_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, duplicate_since: datetime | None = None
    ) -> list[JobRecord | FaxpushError]:
        """Store new ACTIVE jobs; duplicates come back as errors."""
        async with self._locked() as data:
            return [self._insert(data, job, now, duplicate_since) for job in jobs]

    def _insert(
        self, data: _JobData, job: NewJob, now: datetime, duplicate_since: datetime | None
    ) -> JobRecord | FaxpushError:
        if duplicate_since is not None and job.dedup_key is not None:
            for row in sorted(data.jobs.values(), key=lambda r: r.seq):
                if row.dedup_key == job.dedup_key and row.record.created_at >= duplicate_since:
                    return DuplicateJobError(row.record.job_id)
        if job.job_id in data.jobs:
            return StorageError(f"job id {job.job_id} is already taken")
        target = job.push_target
        record = JobRecord(
            job_id=job.job_id,
            customer_number=job.customer_number,
            login=job.login,
            state=JobState.ACTIVE,
            plan=job.plan,
            finish_at=job.finish_at,
            created_at=now,
            push_target=None if target is None else replace(target, credentials=None),
            purge_at=job.purge_at,
        )
        sealed = None if target is None else self._outbox.seal(target.credentials)
        row = _JobRow(data.next_seq, record, job.dedup_key, sealed)
        data.jobs[job.job_id] = row
        data.next_seq += 1
        return self._public(row)

    async def get_job(self, customer_number: str, job_id: str) -> JobRecord | None:
        """The customer's job, or None."""
        async with self._locked() as data:
            row = data.customers_job(customer_number, job_id)
            return None if row is None else self._public(row)

    async def get_jobs(self, customer_number: str, job_ids: Sequence[str]) -> list[JobRecord]:
        """The customer's jobs among ``job_ids``, in the order asked."""
        async with self._locked() as data:
            found = []
            for job_id in dict.fromkeys(job_ids):
                row = data.customers_job(customer_number, job_id)
                if row is not None:
                    found.append(self._public(row))
            return found

    async def list_finished(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[JobRecord]:
        """The customer's finished jobs, oldest report first."""
        async with self._locked() as data:
            chosen = self._finished(data, customer_number)[: max(limit, 0)]
            return [self._public(row) for row in chosen]

    async def delete_reports(self, customer_number: str, job_ids: Sequence[str]) -> set[str]:
        """Delete the customer's finished jobs among ``job_ids``; return the deleted ids."""
        async with self._locked() as data:
            deleted = set()
            for job_id in job_ids:
                row = data.customers_job(customer_number, job_id)
                if row is not None and row.record.state is JobState.FINISHED:
                    del data.jobs[job_id]
                    deleted.add(job_id)
            return deleted

    async def delete_oldest(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[str]:
        """Delete up to ``limit`` of the customer's oldest finished reports."""
        async with self._locked() as data:
            chosen = self._finished(data, customer_number)[: max(limit, 0)]
            for row in chosen:
                del data.jobs[row.record.job_id]
            return [row.record.job_id for row in chosen]

    # --- the simulator ----------------------------------------------------------------
    async def due_jobs(self, *, now: datetime, limit: int) -> list[JobRecord]:
        """ACTIVE jobs whose finish time has come, earliest first."""
        async with self._locked() as data:
            due = [
                row
                for row in data.jobs.values()
                if row.record.state is JobState.ACTIVE and row.record.finish_at <= now
            ]
            due.sort(key=lambda row: (row.record.finish_at, row.seq))
            return [self._public(row) for row in due[: max(limit, 0)]]

    async def next_finish_at(self) -> datetime | None:
        """The earliest finish time of an ACTIVE job."""
        async with self._locked() as data:
            times = [
                row.record.finish_at
                for row in data.jobs.values()
                if row.record.state is JobState.ACTIVE
            ]
            return min(times, default=None)

    async def finish_jobs(self, finished: Sequence[FinishedJob], *, now: datetime) -> set[str]:
        """Finish ACTIVE jobs and enqueue their pushes; nothing changes when a push is bad."""
        for item in finished:
            if item.push is not None and item.push.not_before is not None:
                to_micros(item.push.not_before, name="not_before")  # what enqueue would refuse
        applied: set[str] = set()
        async with self._locked() as data:
            for item in finished:
                row = data.jobs.get(item.job_id)
                if row is None or row.record.state is not JobState.ACTIVE:
                    continue
                if item.push is not None:
                    await self._outbox.enqueue(item.push, now=now)
                row.record = replace(
                    row.record,
                    state=JobState.FINISHED,
                    report=item.report,
                    finished_at=now,
                    purge_at=item.purge_at,
                )
                applied.add(item.job_id)
        return applied

    async def purge_reports(self, *, now: datetime, limit: int = 10_000) -> int:
        """Delete finished jobs whose purge time has passed."""
        async with self._locked() as data:
            expired = [
                job_id
                for job_id, row in data.jobs.items()
                if row.record.state is JobState.FINISHED
                and row.record.purge_at is not None
                and row.record.purge_at <= now
            ][: max(limit, 0)]
            for job_id in expired:
                del data.jobs[job_id]
            return len(expired)

    async def rotate_secrets(self) -> int:
        """Re-seal every job's push credentials under the cipher's primary key."""
        sealer = Sealer(self._outbox.cipher)
        if sealer.cipher is None:
            return 0  # kept in clear: nothing to re-seal
        async with self._locked() as data:
            count = 0
            for row in data.jobs.values():
                if row.credentials is not None:
                    row.credentials = sealer.reseal(row.credentials)
                    count += 1
            return count

    async def count_jobs(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        async with self._locked() as data:
            counts = dict.fromkeys(JobState, 0)
            for row in data.jobs.values():
                counts[row.record.state] += 1
            return counts

    def _public(self, row: _JobRow) -> JobRecord:
        """The record with its push credentials opened."""
        target = row.record.push_target
        if target is None or row.credentials is None:
            return row.record
        opened = replace(target, credentials=self._outbox.unseal(row.credentials))
        return replace(row.record, push_target=opened)

    @staticmethod
    def _finished(data: _JobData, customer_number: str) -> list[_JobRow]:
        rows = [
            row
            for row in data.jobs.values()
            if row.record.customer_number == customer_number
            and row.record.state is JobState.FINISHED
        ]
        rows.sort(key=_report_order)
        return rows
