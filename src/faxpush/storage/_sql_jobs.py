"""The job store's reads, written once for the SQL backends.

Each read names a query and binds its parameters; a backend only runs the query
(:meth:`SqlJobReads._rows`) and says how it binds a list of job ids (:meth:`_job_ids`). The
rows are turned into records by :mod:`faxpush.storage._jobs_rows` with the dialect's
:class:`~faxpush.storage._jobs_rows.Times`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from faxpush.storage import _jobs_rows as rows
from faxpush.storage._jobs_rows import Params, Row, Times
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.jobs_base import MAX_REPORTS_PER_CALL, JobRecord, JobState, Login, OneJobCalls


class SqlJobReads(OneJobCalls):
    """Logins and jobs read by named query; writes stay with each backend."""

    def __init__(self, cipher: SecretCipher, times: Times) -> None:
        self._cipher = cipher
        self._times = times

    async def _rows(self, action: str, name: str, params: Params | None = None) -> Sequence[Row]:
        """The rows of the named job query, run as its own transaction."""
        raise NotImplementedError  # provided by the backend

    def _job_ids(self, job_ids: Sequence[str]) -> Any:
        """``job_ids`` (each once, in order) as the backend binds a list."""
        raise NotImplementedError  # provided by the backend

    def _record(self, row: Row) -> JobRecord:
        return rows.job_from_row(row, self._cipher, self._times)

    # --- logins -----------------------------------------------------------------------
    async def get_login(self, login: str) -> Login | None:
        """The login, or None."""
        found = await self._rows(f"read login {login}", "get_login", {"login": login})
        return next((rows.login_from_row(row, self._times) for row in found), None)

    async def list_logins(self, customer_number: str | None = None) -> list[Login]:
        """Logins by name, of one customer number or of all."""
        params = {"customer_number": customer_number}
        found = await self._rows("list logins", "list_logins", params)
        return [rows.login_from_row(row, self._times) for row in found]

    # --- jobs -------------------------------------------------------------------------
    async def get_job(self, customer_number: str, job_id: str) -> JobRecord | None:
        """The customer's job, or None."""
        params = {"customer_number": customer_number, "job_id": job_id}
        found = await self._rows(f"read job {job_id}", "get_job", params)
        return next((self._record(row) for row in found), None)

    async def get_jobs(self, customer_number: str, job_ids: Sequence[str]) -> list[JobRecord]:
        """The customer's jobs among ``job_ids``, in the order asked."""
        params = {"customer_number": customer_number, "job_ids": self._job_ids(job_ids)}
        found = await self._rows(f"read {len(job_ids)} jobs", "get_jobs", params)
        return [self._record(row) for row in found]

    async def list_finished(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[JobRecord]:
        """The customer's finished jobs, oldest report first."""
        params = {"customer_number": customer_number, "limit": max(limit, 0)}
        found = await self._rows("list reports", "list_finished", params)
        return [self._record(row) for row in found]

    # --- the simulator ----------------------------------------------------------------
    async def due_jobs(self, *, now: datetime, limit: int) -> list[JobRecord]:
        """ACTIVE jobs whose finish time has come, earliest first."""
        params = {"now": self._times.store(now, "now"), "limit": max(limit, 0)}
        found = await self._rows("find due jobs", "due_jobs", params)
        return [self._record(row) for row in found]

    async def count_jobs(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        return rows.job_counts(await self._rows("count jobs", "count_jobs"))


__all__ = ["SqlJobReads"]
