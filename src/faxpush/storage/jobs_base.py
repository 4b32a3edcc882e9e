"""The emulator's storage seam: fax jobs, their reports, and the logins of the REST API.

Job state lives in the same database as the outbox, because a finished job's report and its
push must be written in one transaction (:meth:`JobStore.finish_job`): a crash can then
never leave a finished job without its push, nor a push without its finished job. Each
backend therefore implements :class:`JobStore` on top of its outbox
:class:`~faxpush.storage.base.Store` (see :func:`faxpush.storage.jobs_factory.open_jobs`).
The job store keeps its own schema all the same: :meth:`JobStore.migrate` creates and
upgrades the job tables (version table ``jobs_schema_version``), the outbox's only its own.

Logins carry a password *hash* only; hashing and verification live in
:mod:`faxpush.core.passwords`, so a store never sees a password.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from faxpush.core.errors import FaxpushError, InputError
from faxpush.core.models import FaxJobReport
from faxpush.storage.base import NewPush, PushTarget

__all__ = [
    "MAX_REPORTS_PER_CALL",
    "DuplicateJobError",
    "FinishedJob",
    "JobRecord",
    "JobState",
    "JobStore",
    "Login",
    "NewJob",
]

MAX_REPORTS_PER_CALL = 1000
"""The REST API lists, deletes and bulk-handles at most this many reports per call."""


class JobState(StrEnum):
    """Explicit job states: ``active`` until every recipient is final, then ``finished``."""

    ACTIVE = "active"
    FINISHED = "finished"


class DuplicateJobError(InputError):
    """The same job was submitted again within the duplicate window (answered with 409)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(
            f"duplicate job: the same request was accepted as {job_id} a short while ago; "
            "change reference.customerDefinedId to send it again on purpose"
        )


@dataclass(frozen=True, slots=True)
class Login:
    """A REST API user: belongs to exactly one customer number."""

    login: str
    customer_number: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to store as ACTIVE.

    ``plan`` is the simulator's own description of the job (JSON text the store keeps as
    is); ``finish_at`` is when every recipient will be final; ``push_target`` is the job's
    own ``httpStatusPush`` (credentials included, sealed at rest), or None to use the
    account's default push settings when the job finishes.
    """

    job_id: str
    customer_number: str
    login: str
    plan: str
    finish_at: datetime
    push_target: PushTarget | None = None
    dedup_key: str | None = None
    purge_at: datetime | None = None  # the request's reportPurgeTs, if any


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as stored. ``report`` is set once the job is FINISHED."""

    job_id: str
    customer_number: str
    login: str
    state: JobState
    plan: str
    finish_at: datetime
    created_at: datetime
    push_target: PushTarget | None = None
    finished_at: datetime | None = None
    purge_at: datetime | None = None
    report: FaxJobReport | None = None


@dataclass(frozen=True, slots=True)
class FinishedJob:
    """What finishing one job writes: its final report, its push (if any), its purge time."""

    job_id: str
    report: FaxJobReport
    push: NewPush | None
    purge_at: datetime


class OneJobCalls:
    """``create_job`` and ``finish_job`` for every backend: one job is a batch of one."""

    async def create_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, duplicate_since: datetime | None = None
    ) -> list[JobRecord | FaxpushError]:
        raise NotImplementedError  # provided by the backend

    async def finish_jobs(self, finished: Sequence[FinishedJob], *, now: datetime) -> set[str]:
        raise NotImplementedError  # provided by the backend

    async def create_job(
        self, job: NewJob, *, now: datetime, duplicate_since: datetime | None = None
    ) -> JobRecord:
        """Store a new ACTIVE job, unless it duplicates a recent one (DuplicateJobError)."""
        (outcome,) = await self.create_jobs([job], now=now, duplicate_since=duplicate_since)
        if isinstance(outcome, FaxpushError):
            raise outcome
        return outcome

    async def finish_job(
        self,
        job_id: str,
        report: FaxJobReport,
        push: NewPush | None,
        *,
        now: datetime,
        purge_at: datetime,
    ) -> bool:
        """Finish an ACTIVE job and enqueue its push, in one transaction."""
        finished = FinishedJob(job_id, report, push, purge_at)
        return job_id in await self.finish_jobs([finished], now=now)


@runtime_checkable
class JobStore(Protocol):
    """Jobs, reports and logins of the REST v1 emulator. All times are aware UTC."""

    async def migrate(self) -> None:
        """Create or upgrade the job tables; a no-op when they are current."""

    async def rotate_secrets(self) -> int:
        """Re-encrypt the jobs' push credentials with the cipher's primary key, in one
        transaction; return the count. The outbox's own secrets are rotated by
        :meth:`Store.rotate_secrets <faxpush.storage.base.Store.rotate_secrets>`."""

    # --- logins -----------------------------------------------------------------------
    async def put_login(self, login: Login) -> None:
        """Insert or replace a login (its customer number and password hash)."""

    async def get_login(self, login: str) -> Login | None: ...

    async def list_logins(self, customer_number: str | None = None) -> list[Login]:
        """Logins by name, of one customer number or of all."""

    # --- jobs -------------------------------------------------------------------------
    async def create_job(
        self, job: NewJob, *, now: datetime, duplicate_since: datetime | None = None
    ) -> JobRecord:
        """Store a new ACTIVE job.

        With ``duplicate_since`` and a ``dedup_key``, a job with the same key created at or
        after ``duplicate_since`` makes this raise :class:`DuplicateJobError` instead, and
        nothing is stored; the check and the insert are one transaction."""

    async def create_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, duplicate_since: datetime | None = None
    ) -> list[JobRecord | FaxpushError]:
        """:meth:`create_job` for many jobs in one transaction (group commit).

        Returns, in order, each job's record or the error that refused it (a
        :class:`DuplicateJobError`, also for a duplicate of an earlier job of the batch)."""

    async def get_job(self, customer_number: str, job_id: str) -> JobRecord | None:
        """The customer's job, or None (also for another customer's job)."""

    async def get_jobs(self, customer_number: str, job_ids: Sequence[str]) -> list[JobRecord]:
        """The customer's jobs among ``job_ids``, in the order asked; unknown ids skipped."""

    async def list_finished(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[JobRecord]:
        """The customer's finished jobs, oldest report first."""

    async def delete_reports(self, customer_number: str, job_ids: Sequence[str]) -> set[str]:
        """Delete the customer's *finished* jobs among ``job_ids``; return the deleted ids
        (active jobs have no report yet and are kept)."""

    async def delete_oldest(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[str]:
        """Delete up to ``limit`` of the customer's finished jobs, oldest report first;
        return their ids in that order."""

    # --- the simulator ----------------------------------------------------------------
    async def due_jobs(self, *, now: datetime, limit: int) -> list[JobRecord]:
        """ACTIVE jobs whose ``finish_at`` has come, earliest first."""

    async def next_finish_at(self) -> datetime | None:
        """The earliest ``finish_at`` of an ACTIVE job."""

    async def finish_job(
        self,
        job_id: str,
        report: FaxJobReport,
        push: NewPush | None,
        *,
        now: datetime,
        purge_at: datetime,
    ) -> bool:
        """Mark an ACTIVE job FINISHED with its final ``report`` and enqueue ``push`` into
        the outbox, in one transaction. Returns False (and changes nothing) when the job is
        not ACTIVE any more (finished by another process, or deleted)."""

    async def finish_jobs(self, finished: Sequence[FinishedJob], *, now: datetime) -> set[str]:
        """:meth:`finish_job` for many jobs in one transaction; returns the ids applied."""

    async def purge_reports(self, *, now: datetime, limit: int = 10_000) -> int:
        """Delete finished jobs whose ``purge_at`` has passed; return how many."""

    async def count_jobs(self) -> dict[JobState, int]:
        """How many jobs are in each state (every state is present)."""
