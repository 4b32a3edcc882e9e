"""What only the PostgreSQL job store needs of its rows: its compiled queries, the way it
stores a time, the finish batch's arrays, and telling a retried insert from a taken id.

The rows both SQL job stores share are built in :mod:`faxpush.storage._jobs_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncpg import Record

from faxpush._db.postgres_queries import PgQueries
from faxpush.storage._jobs_rows import Params, Times
from faxpush.storage._pg_rows import checked_time
from faxpush.storage.jobs_base import FinishedJob

QUERIES = PgQueries("faxpush.storage", "sql/postgresql/jobs_queries.sql")
TIMES = Times(store=checked_time, read=lambda value: value)  # timestamptz: aware datetimes


def job_sql(name: str, params: Params | None = None) -> list[Any]:
    """The named job query followed by its positional arguments: ``conn.fetch(*job_sql(…))``."""
    return QUERIES.bind(name, params)


def is_same_job(row: Record, params: Params) -> bool:
    """Whether a stored row is the job ``params`` describe (an earlier try of this call)."""
    same = ("customer_number", "login", "plan", "dedup_key", "created_at")
    return all(row[name] == params[name] for name in same)


def finish_params(finished: Sequence[FinishedJob]) -> Params:
    """Arrays of ``finish_jobs``: each job id once, the first given (as if applied in order)."""
    chosen: dict[str, FinishedJob] = {}
    for item in finished:
        chosen.setdefault(item.job_id, item)
    return {
        "job_ids": list(chosen),
        "reports": [item.report.model_dump_json() for item in chosen.values()],
        "purge_ats": [checked_time(item.purge_at, "purge_at") for item in chosen.values()],
    }
