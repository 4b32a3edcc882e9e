"""The SQLite :class:`~faxpush.storage.jobs_base.JobStore`: job tables beside the outbox.

It runs its work as functions on the :class:`~faxpush.storage.sqlite.SqliteStore`'s
connection thread, in the outbox's transactions, so that :meth:`SqliteJobStore.finish_job`
updates the job and inserts its push in one ``BEGIN IMMEDIATE`` transaction. SQL lives in
``sql/sqlite/jobs_queries.sql``; the tables are created by the job store's own migrations
(``sql/jobs_sqlite/``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, LiteralString

from faxpush._db.migrations import Schema, migrate_sqlite
from faxpush._db.queries import load_queries
from faxpush.core.errors import FaxpushError, StorageError
from faxpush.storage import _jobs_rows as rows
from faxpush.storage._common import from_micros, to_micros
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
from faxpush.storage.sqlite import SqliteStore, insert_push

SCHEMA = Schema(
    "faxpush.storage",
    "sql/jobs_sqlite",
    "jobs_schema_version",
    "faxpush jobs schema migration",
    "the job store",
)
_QUERIES = "sql/sqlite/jobs_queries.sql"
TIMES = rows.Times(store=lambda value, name: to_micros(value, name=name), read=from_micros)


def _sql(name: str) -> LiteralString:
    return load_queries(SCHEMA.package, _QUERIES)[name].sql


def _all(conn: sqlite3.Connection, name: str, params: Any = ()) -> list[sqlite3.Row]:
    return conn.execute(_sql(name), params).fetchall()


class SqliteJobStore(OneJobCalls):
    """A :class:`~faxpush.storage.jobs_base.JobStore` in the database of ``outbox``."""

    def __init__(self, outbox: SqliteStore) -> None:
        self._outbox = outbox
        self._cipher = outbox.cipher

    def __repr__(self) -> str:
        return f"SqliteJobStore({self._outbox.path!r})"

    async def migrate(self) -> None:
        """Create or upgrade the job tables; a no-op when they are current."""
        where = self._outbox.path
        await self._outbox.connection(
            "migrate the job store", lambda conn: migrate_sqlite(conn, SCHEMA, where=where)
        )

    async def _read(self, action: str, name: str, params: Any = ()) -> list[sqlite3.Row]:
        """The rows of one named query, run on its own (reads, single-statement writes)."""
        return await self._outbox.connection(action, lambda conn: _all(conn, name, params))

    # --- logins -----------------------------------------------------------------------
    async def put_login(self, login: Login) -> None:
        """Insert or replace a login."""
        await self._read(f"save login {login.login}", "put_login", rows.login_params(login, TIMES))

    async def get_login(self, login: str) -> Login | None:
        """The login, or None."""
        found = await self._read(f"read login {login}", "get_login", {"login": login})
        return next((rows.login_from_row(row, TIMES) for row in found), None)

    async def list_logins(self, customer_number: str | None = None) -> list[Login]:
        """Logins by name, of one customer number or of all."""
        params = {"customer_number": customer_number}
        found = await self._read("list logins", "list_logins", params)
        return [rows.login_from_row(row, TIMES) for row in found]

    # --- jobs -------------------------------------------------------------------------
    async def create_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, duplicate_since: datetime | None = None
    ) -> list[JobRecord | FaxpushError]:
        """Store new ACTIVE jobs in one transaction; duplicates come back as errors."""
        all_params = [rows.job_params(job, self._cipher, now, TIMES) for job in jobs]
        since = None if duplicate_since is None else to_micros(duplicate_since, name="since")
        if not jobs:
            return []

        def insert(conn: sqlite3.Connection) -> list[sqlite3.Row | FaxpushError]:
            outcomes: list[sqlite3.Row | FaxpushError] = []
            for job, params in zip(jobs, all_params, strict=True):
                if since is not None and job.dedup_key is not None:
                    found = _all(
                        conn, "find_duplicate", {"dedup_key": job.dedup_key, "since": since}
                    )
                    earlier = next((row["job_id"] for row in found), None)
                    if earlier is not None:
                        outcomes.append(DuplicateJobError(earlier))
                        continue
                try:
                    outcomes.append(_all(conn, "insert_job", params)[0])
                except sqlite3.IntegrityError as exc:
                    outcomes.append(StorageError(f"job id {job.job_id} is already taken: {exc}"))
            return outcomes

        found = await self._outbox.transaction(f"store {len(jobs)} job(s)", insert)
        return [
            outcome if isinstance(outcome, FaxpushError) else self._record(outcome)
            for outcome in found
        ]

    async def get_job(self, customer_number: str, job_id: str) -> JobRecord | None:
        """The customer's job, or None."""
        params = {"customer_number": customer_number, "job_id": job_id}
        found = await self._read(f"read job {job_id}", "get_job", params)
        return next((self._record(row) for row in found), None)

    async def get_jobs(self, customer_number: str, job_ids: Sequence[str]) -> list[JobRecord]:
        """The customer's jobs among ``job_ids``, in the order asked."""
        params = {"customer_number": customer_number, "job_ids": _json(job_ids)}
        found = await self._read(f"read {len(job_ids)} jobs", "get_jobs", params)
        return [self._record(row) for row in found]

    async def list_finished(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[JobRecord]:
        """The customer's finished jobs, oldest report first."""
        params = {"customer_number": customer_number, "limit": max(limit, 0)}
        found = await self._read("list reports", "list_finished", params)
        return [self._record(row) for row in found]

    async def delete_reports(self, customer_number: str, job_ids: Sequence[str]) -> set[str]:
        """Delete the customer's finished jobs among ``job_ids``; return the deleted ids."""
        params = {"customer_number": customer_number, "job_ids": _json(job_ids)}
        if not job_ids:
            return set()
        found = await self._outbox.transaction(
            f"delete {len(job_ids)} reports", lambda conn: _all(conn, "delete_reports", params)
        )
        return {row["job_id"] for row in found}

    async def delete_oldest(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[str]:
        """Delete up to ``limit`` of the customer's oldest finished reports."""
        params = {"customer_number": customer_number, "limit": max(limit, 0)}
        found = await self._outbox.transaction(
            "delete the oldest reports", lambda conn: _all(conn, "delete_oldest", params)
        )
        return rows.oldest_first(found)

    # --- the simulator ----------------------------------------------------------------
    async def due_jobs(self, *, now: datetime, limit: int) -> list[JobRecord]:
        """ACTIVE jobs whose finish time has come, earliest first."""
        params = {"now": to_micros(now, name="now"), "limit": max(limit, 0)}
        found = await self._read("find due jobs", "due_jobs", params)
        return [self._record(row) for row in found]

    async def next_finish_at(self) -> datetime | None:
        """The earliest finish time of an ACTIVE job."""
        found = await self._read("find the next due job", "next_finish_at")
        return TIMES.optional(next((row[0] for row in found), None))

    async def finish_jobs(self, finished: Sequence[FinishedJob], *, now: datetime) -> set[str]:
        """Finish ACTIVE jobs and enqueue their pushes, all in one transaction."""
        now_us = to_micros(now, name="now")
        steps = [
            (
                item.job_id,
                {
                    "job_id": item.job_id,
                    "report": item.report.model_dump_json(),
                    "now": now_us,
                    "purge_at": to_micros(item.purge_at, name="purge_at"),
                },
                item.push,
            )
            for item in finished
        ]
        if not steps:
            return set()

        def finish(conn: sqlite3.Connection) -> set[str]:
            applied: set[str] = set()
            for job_id, params, push in steps:
                if not _all(conn, "finish_job", params):
                    continue
                if push is not None:
                    insert_push(conn, push, self._cipher, now_us=now_us)
                applied.add(job_id)
            return applied

        return await self._outbox.transaction(f"finish {len(steps)} job(s)", finish)

    async def purge_reports(self, *, now: datetime, limit: int = 10_000) -> int:
        """Delete finished jobs whose purge time has passed."""
        params = {"now": to_micros(now, name="now"), "limit": max(limit, 0)}
        return await self._outbox.transaction(
            "purge expired reports",
            lambda conn: conn.execute(_sql("purge_reports"), params).rowcount,
        )

    async def rotate_secrets(self) -> int:
        """Re-seal every job's push credentials under the cipher's primary key."""
        cipher = self._cipher

        def rotate(conn: sqlite3.Connection) -> int:
            updates = [
                {"id": row["id"], "secret": cipher.rotate(row["secret"])}
                for row in _all(conn, "job_secrets")
            ]
            conn.executemany(_sql("update_job_secret"), updates)
            return len(updates)

        return await self._outbox.transaction("rotate the jobs' secrets", rotate)

    async def count_jobs(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        return rows.job_counts(await self._read("count jobs", "count_jobs"))

    def _record(self, row: sqlite3.Row) -> JobRecord:
        return rows.job_from_row(row, self._cipher, TIMES)


def _json(job_ids: Sequence[str]) -> str:
    return json.dumps(rows.unique(job_ids))
