"""The PostgreSQL :class:`~faxpush.storage.jobs_base.JobStore`: job tables beside the outbox.

It runs on the :class:`~faxpush.storage.postgres.PostgresStore`'s pool, so that
:meth:`PostgresJobStore.finish_jobs` updates the jobs and inserts their pushes (which wakes
the dispatchers through the outbox's ``NOTIFY`` trigger) in one transaction. Several emulator
processes may share the database: finishing only applies to a job that is still ACTIVE, and
the rows are locked first, so a job that two simulators find due at once is finished once,
with one push. Jobs with the same duplicate key are created one after the other (an advisory
lock per key), so the duplicate check sees every earlier job.

Lost connections are retried as the outbox's operations are. Writes that must not happen
twice find out after a reconnect whether their first try committed: created jobs by their
id and content, finished jobs by the batch id stored with them. SQL lives in
``sql/postgresql/jobs_queries.sql``; the tables are created by the job store's own
migrations (``sql/jobs_postgresql/``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from faxpush._db.migrations import Schema, migrate_postgres
from faxpush.core.errors import FaxpushError, StorageError
from faxpush.storage import _jobs_rows as rows
from faxpush.storage._jobs_rows import Params
from faxpush.storage._pg_admin import SealedColumn, query, reseal
from faxpush.storage._pg_jobs_rows import TIMES, finish_params, is_same_job, job_sql
from faxpush.storage._pg_rows import checked_time, push_params
from faxpush.storage._sql_jobs import SqlJobReads
from faxpush.storage.base import NewPush
from faxpush.storage.jobs_base import (
    MAX_REPORTS_PER_CALL,
    DuplicateJobError,
    FinishedJob,
    JobRecord,
    Login,
    NewJob,
)
from faxpush.storage.postgres import PostgresStore

if TYPE_CHECKING:
    from asyncpg import Record

    from faxpush._db.postgres import PooledConnection

SCHEMA = Schema(
    "faxpush.storage",
    "sql/jobs_postgresql",
    "jobs_schema_version",
    "faxpush jobs schema migration",
    "the job store",
)
JOB_SECRETS = SealedColumn("fax_jobs", "seq", "bigint", "target_credentials")


class PostgresJobStore(SqlJobReads):
    """A :class:`~faxpush.storage.jobs_base.JobStore` in the database of ``outbox``."""

    def __init__(self, outbox: PostgresStore) -> None:
        super().__init__(outbox.cipher, TIMES)
        self._outbox = outbox

    def __repr__(self) -> str:
        return f"PostgresJobStore({self._outbox.url!r})"

    async def migrate(self) -> None:
        """Create or upgrade the job tables; a no-op when they are current. Concurrent
        callers (several emulators starting at once) take turns."""
        where = self._outbox.url
        await self._outbox.run(
            "migrate the job store", lambda c, _: migrate_postgres(c, SCHEMA, where=where)
        )

    async def _rows(self, action: str, name: str, params: Params | None = None) -> list[Record]:
        """The rows of one named query, run as its own transaction."""
        statement = job_sql(name, params)
        found: list[Record] = await self._outbox.run(action, lambda c, _: c.fetch(*statement))
        return found

    def _job_ids(self, job_ids: Sequence[str]) -> list[str]:
        return rows.unique(job_ids)

    # --- logins -----------------------------------------------------------------------
    async def put_login(self, login: Login) -> None:
        """Insert or replace a login."""
        await self._rows(f"save login {login.login}", "put_login", rows.login_params(login, TIMES))

    # --- jobs -------------------------------------------------------------------------
    async def create_jobs(
        self, jobs: Sequence[NewJob], *, now: datetime, duplicate_since: datetime | None = None
    ) -> list[JobRecord | FaxpushError]:
        """Store new ACTIVE jobs in one transaction; duplicates come back as errors."""
        all_params = [rows.job_params(job, self._cipher, now, TIMES) for job in jobs]
        since = None if duplicate_since is None else checked_time(duplicate_since, "since")
        if not jobs:
            return []
        keys = sorted({job.dedup_key for job in jobs if job.dedup_key is not None})

        async def work(conn: PooledConnection, attempt: int) -> list[JobRecord | FaxpushError]:
            async with conn.transaction():
                if since is not None and keys:
                    await conn.fetchval(*job_sql("lock_dedup_keys", {"dedup_keys": keys}))
                taken: set[str] = set()
                return [
                    await self._create_one(conn, params, since, attempt > 0, taken)
                    for params in all_params
                ]

        return await self._outbox.run(f"store {len(jobs)} job(s)", work)

    async def _create_one(
        self,
        conn: PooledConnection,
        params: dict[str, Any],
        since: datetime | None,
        retried: bool,
        taken: set[str],
    ) -> JobRecord | FaxpushError:
        """Insert one job of a batch (inside its transaction); ``taken`` holds the ids this
        try stored already. After a lost connection (``retried``) a row that is this very
        job is what the committed first try stored: it is returned as created."""
        job_id: str = params["job_id"]
        own_earlier = retried and job_id not in taken
        if since is not None and params["dedup_key"] is not None:
            query = {"dedup_key": params["dedup_key"], "since": since}
            earlier = await conn.fetchrow(*job_sql("find_duplicate", query))
            if earlier is not None and not (own_earlier and earlier["job_id"] == job_id):
                return DuplicateJobError(earlier["job_id"])
        row = await conn.fetchrow(*job_sql("insert_job", params))
        if row is None:
            existing = await conn.fetchrow(*job_sql("job_by_id", {"job_id": job_id}))
            if existing is None or not (own_earlier and is_same_job(existing, params)):
                return StorageError(f"job id {job_id} is already taken")
            row = existing
        taken.add(job_id)
        return self._record(row)

    async def delete_reports(self, customer_number: str, job_ids: Sequence[str]) -> set[str]:
        """Delete the customer's finished jobs among ``job_ids``; return the deleted ids.

        After a lost connection the answer covers only what the repeated try deleted."""
        if not job_ids:
            return set()
        params = {"customer_number": customer_number, "job_ids": rows.unique(job_ids)}
        found = await self._rows(f"delete {len(job_ids)} reports", "delete_reports", params)
        return {row["job_id"] for row in found}

    async def delete_oldest(
        self, customer_number: str, *, limit: int = MAX_REPORTS_PER_CALL
    ) -> list[str]:
        """Delete up to ``limit`` of the customer's oldest finished reports.

        Not repeated after a lost connection (the ids could not be told again)."""
        params = {"customer_number": customer_number, "limit": max(limit, 0)}
        statement = job_sql("delete_oldest", params)
        found = await self._outbox.run(
            "delete the oldest reports", lambda c, _: c.fetch(*statement), retry=False
        )
        return rows.oldest_first(found)

    # --- the simulator ----------------------------------------------------------------
    async def next_finish_at(self) -> datetime | None:
        """The earliest finish time of an ACTIVE job."""
        statement = job_sql("next_finish_at")
        due: datetime | None = await self._outbox.run(
            "find the next due job", lambda c, _: c.fetchval(*statement)
        )
        return due

    async def finish_jobs(self, finished: Sequence[FinishedJob], *, now: datetime) -> set[str]:
        """Finish ACTIVE jobs and enqueue their pushes, all in one transaction."""
        checked_time(now, "now")
        if not finished:
            return set()
        batch = uuid.uuid4()
        params = {**finish_params(finished), "now": now, "finish_batch": batch}
        earlier = job_sql(
            "finished_in_batch", {"job_ids": params["job_ids"], "finish_batch": batch}
        )
        pushes: dict[str, NewPush] = {}
        for item in finished:
            if item.push is not None:
                pushes.setdefault(item.job_id, item.push)

        async def work(conn: PooledConnection, attempt: int) -> set[str]:
            if attempt > 0:  # did the try whose answer was lost commit?
                committed = await conn.fetch(*earlier)
                if committed:
                    return {row["job_id"] for row in committed}
            async with conn.transaction():
                updated = await conn.fetch(*job_sql("finish_jobs", params))
                applied = {row["job_id"] for row in updated}
                insert = query("insert_push")
                inserts = [
                    insert.args(push_params(push, self._cipher, now=now))
                    for job_id, push in pushes.items()
                    if job_id in applied
                ]
                if inserts:  # the outbox's own insert: idempotent per delivery id, NOTIFYs
                    await conn.executemany(insert.text, inserts)
            return applied

        return await self._outbox.run(f"finish {len(finished)} job(s)", work)

    async def purge_reports(self, *, now: datetime, limit: int = 10_000) -> int:
        """Delete finished jobs whose purge time has passed."""
        params = {"now": checked_time(now, "now"), "limit": max(limit, 0)}
        statement = job_sql("purge_reports", params)
        purged: int = await self._outbox.run(
            "purge expired reports", lambda c, _: c.fetchval(*statement)
        )
        return purged

    async def rotate_secrets(self) -> int:
        """Re-seal every job's push credentials under the cipher's primary key, reading
        and writing in chunks (repeated whole after a lost connection: harmless)."""

        async def work(conn: PooledConnection, _: int) -> int:
            async with conn.transaction():
                return await reseal(conn, self._cipher, JOB_SECRETS)

        return await self._outbox.run("rotate the jobs' secrets", work)
