"""The SQLite job store's writes: ``@sqlite_work`` functions of a connection and plain data,
run by :meth:`SqliteStore.write <faxpush.storage.sqlite.SqliteStore.write>` in one write
transaction of the outbox's database, on its thread or in its store process.

Secrets arrive sealed (the cipher stays with the caller); rows come back as plain dicts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, LiteralString

from faxpush._db.queries import load_queries
from faxpush.storage._sqlite_hot import sqlite_work
from faxpush.storage._sqlite_work import Params, Row, dict_rows, insert_push

JOB_QUERIES = ("faxpush.storage", "sql/sqlite/jobs_queries.sql")
# What became of one new job: ("stored", its row), ("duplicate", the earlier job's id) or
# ("taken", why its job id could not be stored).
Outcome = tuple[str, Any]
# A job to finish: its id, the parameters of ``finish_job``, and its push (the parameters of
# ``insert_push`` and the body) if it has one.
Finishing = tuple[str, Params, tuple[Params, bytes] | None]


def jobs_sql(name: str) -> LiteralString:
    """The text of the job store's named query ``name``."""
    return load_queries(*JOB_QUERIES)[name].sql


@sqlite_work
def put_login(conn: sqlite3.Connection, params: Params) -> None:
    """Insert or replace a login."""
    conn.execute(jobs_sql("put_login"), params)


@sqlite_work
def create_jobs(
    conn: sqlite3.Connection, jobs: Sequence[tuple[Params, str | None]], since: int | None
) -> list[Outcome]:
    """Insert jobs (their parameters and deduplication keys), skipping those that repeat a
    job created since ``since`` (microseconds; None: no deduplication)."""
    outcomes: list[Outcome] = []
    for params, dedup_key in jobs:
        if since is not None and dedup_key is not None:
            earlier = conn.execute(
                jobs_sql("find_duplicate"), {"dedup_key": dedup_key, "since": since}
            ).fetchone()
            if earlier is not None:
                outcomes.append(("duplicate", earlier[0]))
                continue
        try:
            outcomes.append(("stored", dict_rows(conn.execute(jobs_sql("insert_job"), params))[0]))
        except sqlite3.IntegrityError as exc:
            outcomes.append(("taken", str(exc)))
    return outcomes


@sqlite_work
def delete_reports(conn: sqlite3.Connection, params: Params) -> list[str]:
    """Delete the customer's finished jobs among the ids asked; the deleted ids."""
    return [row[0] for row in conn.execute(jobs_sql("delete_reports"), params).fetchall()]


@sqlite_work
def delete_oldest(conn: sqlite3.Connection, params: Params) -> list[Row]:
    """Delete a customer's oldest finished reports; their rows."""
    return dict_rows(conn.execute(jobs_sql("delete_oldest"), params))


@sqlite_work
def finish_jobs(conn: sqlite3.Connection, finishing: Sequence[Finishing]) -> list[str]:
    """Finish the jobs still active and enqueue their pushes; the ids finished."""
    applied = []
    for job_id, params, push in finishing:
        if conn.execute(jobs_sql("finish_job"), params).fetchone() is None:
            continue
        if push is not None:
            insert_push(conn, *push)
        applied.append(job_id)
    return applied


@sqlite_work
def purge_reports(conn: sqlite3.Connection, params: Params) -> int:
    """Delete the finished jobs whose purge time has passed; how many."""
    return conn.execute(jobs_sql("purge_reports"), params).rowcount
