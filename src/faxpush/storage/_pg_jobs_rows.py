"""The PostgreSQL job store's named queries and its conversions between records and rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from asyncpg import Record
from pydantic import ValidationError

from faxpush._db.postgres_queries import PgQuery, compile_sql
from faxpush.core.errors import StorageError
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.storage._pg_rows import checked_time
from faxpush.storage._sqlfiles import queries
from faxpush.storage.base import ClientAuthStyle, PushTarget
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.jobs_base import FinishedJob, JobRecord, JobState, Login, NewJob

JOB_QUERIES = "jobs_queries.sql"
Params = dict[str, Any]


@cache
def _query(name: str) -> PgQuery:
    try:
        text = queries("postgresql", JOB_QUERIES)[name]
    except KeyError:
        raise StorageError(f"no PostgreSQL job query named {name!r}; this is a bug") from None
    return compile_sql(name, text)


def job_sql(name: str, params: Params | None = None) -> list[Any]:
    """The named job query followed by its positional arguments: ``conn.fetch(*job_sql(…))``."""
    compiled = _query(name)
    return [compiled.text, *compiled.args(params or {})]


def login_params(login: Login) -> Params:
    """Parameters of ``put_login``."""
    return {
        "login": login.login,
        "customer_number": login.customer_number,
        "password_hash": login.password_hash,
        "created_at": checked_time(login.created_at, "created_at"),
    }


def login_from_row(row: Record) -> Login:
    """A login from a row of ``rest_logins``."""
    return Login(
        login=row["login"],
        customer_number=row["customer_number"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
    )


def job_params(job: NewJob, cipher: SecretCipher, now: datetime) -> Params:
    """Parameters of ``insert_job``."""
    target = job.push_target
    sealed = None
    if target is not None and target.credentials is not None:
        sealed = cipher.encrypt(target.credentials)
    return {
        "job_id": job.job_id,
        "customer_number": job.customer_number,
        "login": job.login,
        "plan": job.plan,
        "finish_at": checked_time(job.finish_at, "finish_at"),
        "target_url": None if target is None else target.url,
        "target_auth": None if target is None else target.auth_method.value,
        "target_principal": None if target is None else target.principal,
        "target_credentials": sealed,
        "target_token_url": None if target is None else target.token_url,
        "target_client_auth": None if target is None else target.client_auth.value,
        "dedup_key": job.dedup_key,
        "created_at": checked_time(now, "now"),
        "purge_at": None if job.purge_at is None else checked_time(job.purge_at, "purge_at"),
    }


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


def job_from_row(row: Record, cipher: SecretCipher) -> JobRecord:
    """A job from a row of ``fax_jobs``."""
    target = None
    if row["target_url"] is not None:
        sealed = row["target_credentials"]
        target = PushTarget(
            url=row["target_url"],
            auth_method=AuthMethod(row["target_auth"]),
            principal=row["target_principal"],
            credentials=None if sealed is None else cipher.decrypt(sealed),
            token_url=row["target_token_url"],
            client_auth=ClientAuthStyle(row["target_client_auth"]),
        )
    return JobRecord(
        job_id=row["job_id"],
        customer_number=row["customer_number"],
        login=row["login"],
        state=JobState(row["state"]),
        plan=row["plan"],
        finish_at=row["finish_at"],
        created_at=row["created_at"],
        push_target=target,
        finished_at=row["finished_at"],
        purge_at=row["purge_at"],
        report=None if row["report"] is None else _report(row["job_id"], row["report"]),
    )


def _report(job_id: str, text: str) -> FaxJobReport:
    try:
        return FaxJobReport.model_validate_json(text)
    except ValidationError as exc:
        raise StorageError(f"the stored report of job {job_id} is damaged: {exc}") from None
