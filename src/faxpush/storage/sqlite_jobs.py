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
from typing import Any

from pydantic import ValidationError

from faxpush._db.migrations import Schema, migrate_sqlite
from faxpush.core.errors import FaxpushError, StorageError
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.storage._common import from_micros, to_micros
from faxpush.storage._sqlfiles import queries
from faxpush.storage.base import ClientAuthStyle, PushTarget
from faxpush.storage.jobs_base import (
    MAX_REPORTS_PER_CALL,
    DuplicateJobError,
    FinishedJob,
    FinishOneJob,
    JobRecord,
    JobState,
    Login,
    NewJob,
)
from faxpush.storage.sqlite import SqliteStore, insert_push

SCHEMA = Schema(
    "faxpush.storage",
    "sql/jobs_sqlite",
    "jobs_schema_version",
    "faxpush jobs schema migration",
    "the job store",
)


def _sql(name: str) -> str:
    return queries("sqlite", "jobs_queries.sql")[name]


def _all(conn: sqlite3.Connection, name: str, params: Any = ()) -> list[sqlite3.Row]:
    return conn.execute(_sql(name), params).fetchall()


def _optional_time(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


class SqliteJobStore(FinishOneJob):
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

    # --- logins -----------------------------------------------------------------------
    async def put_login(self, login: Login) -> None:
        """Insert or replace a login."""
        params = {
            "login": login.login,
            "customer_number": login.customer_number,
            "password_hash": login.password_hash,
            "created_at": to_micros(login.created_at, name="created_at"),
        }
        await self._outbox.connection(
            f"save login {login.login}", lambda conn: _all(conn, "put_login", params)
        )

    async def get_login(self, login: str) -> Login | None:
        """The login, or None."""
        found = await self._outbox.connection(
            f"read login {login}", lambda conn: _all(conn, "get_login", {"login": login})
        )
        return next((_login(row) for row in found), None)

    async def list_logins(self, customer_number: str | None = None) -> list[Login]:
        """Logins by name, of one customer number or of all."""
        found = await self._outbox.connection(
            "list logins",
            lambda conn: _all(conn, "list_logins", {"customer_number": customer_number}),
        )
        return [_login(row) for row in found]

    # --- jobs -------------------------------------------------------------------------
    async def create_job(
        self, job: NewJob, *, now: datetime, duplicate_since: datetime | None = None
    ) -> JobRecord:
        """Store a new ACTIVE job, unless it duplicates a recent one (DuplicateJobError)."""
        (outcome,) = await self.create_jobs([job], now=now, duplicate_since=duplicate_since)
        if isinstance(outcome, FaxpushError):
            raise outcome
        return outcome

    async def create_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, duplicate_since: datetime | None = None
    ) -> list[JobRecord | FaxpushError]:
        """Store new ACTIVE jobs in one transaction; duplicates come back as errors."""
        all_params = [self._job_params(job, now) for job in jobs]
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
        found = await self._outbox.connection(
            f"read job {job_id}", lambda conn: _all(conn, "get_job", params)
        )
        return next((self._record(row) for row in found), None)

    async def get_jobs(self, customer_number: str, job_ids: Sequence[str]) -> list[JobRecord]:
        """The customer's jobs among ``job_ids``, in the order asked."""
        params = {"customer_number": customer_number, "job_ids": _unique_json(job_ids)}
        found = await self._outbox.connection(
            f"read {len(job_ids)} jobs", lambda conn: _all(conn, "get_jobs", params)
        )
        return [self._record(row) for row in found]

    async def list_finished(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[JobRecord]:
        """The customer's finished jobs, oldest report first."""
        params = {"customer_number": customer_number, "limit": max(limit, 0)}
        found = await self._outbox.connection(
            "list reports", lambda conn: _all(conn, "list_finished", params)
        )
        return [self._record(row) for row in found]

    async def delete_reports(self, customer_number: str, job_ids: Sequence[str]) -> set[str]:
        """Delete the customer's finished jobs among ``job_ids``; return the deleted ids."""
        params = {"customer_number": customer_number, "job_ids": _unique_json(job_ids)}
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
        ordered = sorted(found, key=lambda row: (row["finished_at"], row["seq"]))
        return [row["job_id"] for row in ordered]

    # --- the simulator ----------------------------------------------------------------
    async def due_jobs(self, *, now: datetime, limit: int) -> list[JobRecord]:
        """ACTIVE jobs whose finish time has come, earliest first."""
        params = {"now": to_micros(now, name="now"), "limit": max(limit, 0)}
        found = await self._outbox.connection(
            "find due jobs", lambda conn: _all(conn, "due_jobs", params)
        )
        return [self._record(row) for row in found]

    async def next_finish_at(self) -> datetime | None:
        """The earliest finish time of an ACTIVE job."""
        found = await self._outbox.connection(
            "find the next due job", lambda conn: _all(conn, "next_finish_at")
        )
        value = next((row[0] for row in found), None)
        return _optional_time(value)

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
        found = await self._outbox.connection("count jobs", lambda conn: _all(conn, "count_jobs"))
        counts = dict.fromkeys(JobState, 0)
        counts.update({JobState(row["state"]): row["jobs"] for row in found})
        return counts

    # --- rows -------------------------------------------------------------------------
    def _job_params(self, job: NewJob, now: datetime) -> dict[str, Any]:
        target = job.push_target
        return {
            "job_id": job.job_id,
            "customer_number": job.customer_number,
            "login": job.login,
            "plan": job.plan,
            "finish_at": to_micros(job.finish_at, name="finish_at"),
            "target_url": None if target is None else target.url,
            "target_auth": None if target is None else target.auth_method.value,
            "target_principal": None if target is None else target.principal,
            "target_credentials": None
            if target is None or target.credentials is None
            else self._cipher.encrypt(target.credentials),
            "target_token_url": None if target is None else target.token_url,
            "target_client_auth": None if target is None else target.client_auth.value,
            "dedup_key": job.dedup_key,
            "created_at": to_micros(now, name="now"),
            "purge_at": None if job.purge_at is None else to_micros(job.purge_at, name="purge_at"),
        }

    def _record(self, row: sqlite3.Row) -> JobRecord:
        target = None
        if row["target_url"] is not None:
            sealed = row["target_credentials"]
            target = PushTarget(
                url=row["target_url"],
                auth_method=AuthMethod(row["target_auth"]),
                principal=row["target_principal"],
                credentials=None if sealed is None else self._cipher.decrypt(sealed),
                token_url=row["target_token_url"],
                client_auth=ClientAuthStyle(row["target_client_auth"]),
            )
        return JobRecord(
            job_id=row["job_id"],
            customer_number=row["customer_number"],
            login=row["login"],
            state=JobState(row["state"]),
            plan=row["plan"],
            finish_at=from_micros(row["finish_at"]),
            created_at=from_micros(row["created_at"]),
            push_target=target,
            finished_at=_optional_time(row["finished_at"]),
            purge_at=_optional_time(row["purge_at"]),
            report=None if row["report"] is None else _report(row["job_id"], row["report"]),
        )


def _login(row: sqlite3.Row) -> Login:
    return Login(
        login=row["login"],
        customer_number=row["customer_number"],
        password_hash=row["password_hash"],
        created_at=from_micros(row["created_at"]),
    )


def _report(job_id: str, text: str) -> FaxJobReport:
    try:
        return FaxJobReport.model_validate_json(text)
    except ValidationError as exc:
        raise StorageError(f"the stored report of job {job_id} is damaged: {exc}") from None


def _unique_json(job_ids: Sequence[str]) -> str:
    return json.dumps(list(dict.fromkeys(job_ids)))
