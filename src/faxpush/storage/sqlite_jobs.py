"""The SQLite :class:`~faxpush.storage.jobs_base.JobStore`: job tables beside the outbox.

It writes through the :class:`~faxpush.storage.sqlite.SqliteStore`'s one writing
connection (:meth:`SqliteStore.write <faxpush.storage.sqlite.SqliteStore.write>`, the
``@sqlite_work`` functions of ``_sqlite_jobs_work``), so that :meth:`SqliteJobStore.finish_jobs`
updates the jobs and inserts their pushes in one ``BEGIN IMMEDIATE`` transaction, on the
store's thread or in its store process; it reads on the store's thread. Secrets are sealed
and opened here. SQL lives in ``sql/sqlite/jobs_queries.sql``; the tables are created by the
job store's own migrations (``sql/jobs_sqlite/``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from faxpush._db.migrations import Schema
from faxpush.core.errors import FaxpushError, StorageError
from faxpush.storage import _jobs_rows as rows
from faxpush.storage import _sqlite_jobs_work as work
from faxpush.storage import _sqlite_rows as outbox_rows
from faxpush.storage._common import from_micros, to_micros
from faxpush.storage._jobs_rows import Params
from faxpush.storage._sql_jobs import SqlJobReads
from faxpush.storage._sqlite_work import migrate
from faxpush.storage.jobs_base import (
    MAX_REPORTS_PER_CALL,
    DuplicateJobError,
    FinishedJob,
    JobRecord,
    Login,
    NewJob,
)
from faxpush.storage.sqlite import SqliteStore

SCHEMA = Schema(
    "faxpush.storage",
    "sql/jobs_sqlite",
    "jobs_schema_version",
    "faxpush jobs schema migration",
    "the job store",
)
TIMES = rows.Times(store=lambda value, name: to_micros(value, name=name), read=from_micros)


def _all(conn: sqlite3.Connection, name: str, params: Any = ()) -> list[sqlite3.Row]:
    return conn.execute(work.jobs_sql(name), params).fetchall()


class SqliteJobStore(SqlJobReads):
    """A :class:`~faxpush.storage.jobs_base.JobStore` in the database of ``outbox``."""

    def __init__(self, outbox: SqliteStore) -> None:
        super().__init__(outbox.cipher, TIMES)
        self._outbox = outbox

    def __repr__(self) -> str:
        return f"SqliteJobStore({self._outbox.path!r})"

    async def migrate(self) -> None:
        """Create or upgrade the job tables; a no-op when they are current."""
        await self._outbox.write("migrate the job store", migrate, SCHEMA, self._outbox.path)

    async def _rows(
        self, action: str, name: str, params: Params | None = None
    ) -> list[sqlite3.Row]:
        """The rows of one named query, on the store's thread."""
        bound = () if params is None else params
        return await self._outbox.connection(action, lambda conn: _all(conn, name, bound))

    def _job_ids(self, job_ids: Sequence[str]) -> str:
        return _json(job_ids)

    # --- logins -----------------------------------------------------------------------
    async def put_login(self, login: Login) -> None:
        """Insert or replace a login."""
        params = rows.login_params(login, TIMES)
        await self._outbox.write(f"save login {login.login}", work.put_login, params)

    # --- jobs -------------------------------------------------------------------------
    async def create_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, duplicate_since: datetime | None = None
    ) -> list[JobRecord | FaxpushError]:
        """Store new ACTIVE jobs in one transaction; duplicates come back as errors."""
        since = None if duplicate_since is None else to_micros(duplicate_since, name="since")
        sealed = [(rows.job_params(job, self._cipher, now, TIMES), job.dedup_key) for job in jobs]
        if not jobs:
            return []
        found = await self._outbox.write(
            f"store {len(jobs)} job(s)", work.create_jobs, sealed, since
        )
        return [self._outcome(job, outcome) for job, outcome in zip(jobs, found, strict=True)]

    def _outcome(self, job: NewJob, outcome: work.Outcome) -> JobRecord | FaxpushError:
        kind, value = outcome
        if kind == "stored":
            return self._record(value)
        if kind == "duplicate":
            return DuplicateJobError(value)
        return StorageError(f"job id {job.job_id} is already taken: {value}")

    async def delete_reports(self, customer_number: str, job_ids: Sequence[str]) -> set[str]:
        """Delete the customer's finished jobs among ``job_ids``; return the deleted ids."""
        params = {"customer_number": customer_number, "job_ids": _json(job_ids)}
        if not job_ids:
            return set()
        action = f"delete {len(job_ids)} reports"
        return set(await self._outbox.write(action, work.delete_reports, params))

    async def delete_oldest(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[str]:
        """Delete up to ``limit`` of the customer's oldest finished reports."""
        params = {"customer_number": customer_number, "limit": max(limit, 0)}
        found = await self._outbox.write("delete the oldest reports", work.delete_oldest, params)
        return rows.oldest_first(found)

    # --- the simulator ----------------------------------------------------------------
    async def next_finish_at(self) -> datetime | None:
        """The earliest finish time of an ACTIVE job."""
        found = await self._rows("find the next due job", "next_finish_at")
        return TIMES.optional(next((row[0] for row in found), None))

    async def finish_jobs(self, finished: Sequence[FinishedJob], *, now: datetime) -> set[str]:
        """Finish ACTIVE jobs and enqueue their pushes, all in one transaction."""
        now_us = to_micros(now, name="now")
        finishing: list[work.Finishing] = [
            (
                item.job_id,
                {
                    "job_id": item.job_id,
                    "report": item.report.model_dump_json(),
                    "now": now_us,
                    "purge_at": to_micros(item.purge_at, name="purge_at"),
                },
                None
                if item.push is None
                else (
                    outbox_rows.push_params(item.push, self._cipher, now_us=now_us),
                    item.push.body,
                ),
            )
            for item in finished
        ]
        if not finishing:
            return set()
        action = f"finish {len(finishing)} job(s)"
        return set(await self._outbox.write(action, work.finish_jobs, finishing))

    async def purge_reports(self, *, now: datetime, limit: int = 10_000) -> int:
        """Delete finished jobs whose purge time has passed."""
        params = {"now": to_micros(now, name="now"), "limit": max(limit, 0)}
        return await self._outbox.write("purge expired reports", work.purge_reports, params)

    async def rotate_secrets(self) -> int:
        """Re-seal every job's push credentials under the cipher's primary key."""
        queries = [(work.jobs_sql("job_secrets"), work.jobs_sql("update_job_secret"))]
        return await self._outbox.reseal("rotate the jobs' secrets", queries)


def _json(job_ids: Sequence[str]) -> str:
    return json.dumps(rows.unique(job_ids))
