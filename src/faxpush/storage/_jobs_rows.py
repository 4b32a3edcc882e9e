"""The rows of the SQL job stores, built and read once for both dialects.

SQLite and PostgreSQL keep the same job and login columns; they differ only in how a time is
stored (integer microseconds in SQLite, ``timestamptz`` in PostgreSQL), which each store
passes as a :class:`Times`. Rows are read by column name, as both drivers' rows allow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from faxpush.core.errors import StorageError
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.core.targets import ClientAuthStyle, PushTarget
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.jobs_base import JobRecord, JobState, Login, NewJob

Params = dict[str, Any]


class Row(Protocol):
    """A database row read by column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Times:
    """How a dialect stores a time: ``store(value, name)`` checks ``value`` (an aware time;
    ``name`` names it in errors) and gives the column value; ``read`` turns it back."""

    store: Callable[[datetime, str], Any]
    read: Callable[[Any], datetime]

    def optional(self, value: Any) -> datetime | None:
        return None if value is None else self.read(value)


def login_params(login: Login, times: Times) -> Params:
    """Parameters of ``put_login``."""
    return {
        "login": login.login,
        "customer_number": login.customer_number,
        "password_hash": login.password_hash,
        "created_at": times.store(login.created_at, "created_at"),
    }


def login_from_row(row: Row, times: Times) -> Login:
    """A login from a row of ``rest_logins``."""
    return Login(
        login=row["login"],
        customer_number=row["customer_number"],
        password_hash=row["password_hash"],
        created_at=times.read(row["created_at"]),
    )


def job_params(job: NewJob, cipher: SecretCipher, now: datetime, times: Times) -> Params:
    """Parameters of ``insert_job``: the job's push credentials sealed with ``cipher``."""
    target = job.push_target
    sealed = None
    if target is not None and target.credentials is not None:
        sealed = cipher.encrypt(target.credentials)
    return {
        "job_id": job.job_id,
        "customer_number": job.customer_number,
        "login": job.login,
        "plan": job.plan,
        "finish_at": times.store(job.finish_at, "finish_at"),
        "target_url": None if target is None else target.url,
        "target_auth": None if target is None else target.auth_method.value,
        "target_principal": None if target is None else target.principal,
        "target_credentials": sealed,
        "target_token_url": None if target is None else target.token_url,
        "target_client_auth": None if target is None else target.client_auth.value,
        "dedup_key": job.dedup_key,
        "created_at": times.store(now, "now"),
        "purge_at": None if job.purge_at is None else times.store(job.purge_at, "purge_at"),
    }


def job_from_row(row: Row, cipher: SecretCipher, times: Times) -> JobRecord:
    """A job from a row of ``fax_jobs``, its push credentials opened with ``cipher``."""
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
        finish_at=times.read(row["finish_at"]),
        created_at=times.read(row["created_at"]),
        push_target=target,
        finished_at=times.optional(row["finished_at"]),
        purge_at=times.optional(row["purge_at"]),
        report=None if row["report"] is None else _report(row["job_id"], row["report"]),
    )


def job_counts(rows: Iterable[Row]) -> dict[JobState, int]:
    """``count_jobs``'s rows (state, jobs) with every state present."""
    counts = dict.fromkeys(JobState, 0)
    counts.update({JobState(row["state"]): row["jobs"] for row in rows})
    return counts


def oldest_first(rows: Iterable[Row]) -> list[str]:
    """The job ids of ``delete_oldest``'s rows, oldest report first (a DELETE … RETURNING
    returns them in no particular order)."""
    return [row["job_id"] for row in sorted(rows, key=lambda r: (r["finished_at"], r["seq"]))]


def unique(job_ids: Iterable[str]) -> list[str]:
    """``job_ids`` without repetitions, in their order."""
    return list(dict.fromkeys(job_ids))


def _report(job_id: str, text: str) -> FaxJobReport:
    try:
        return FaxJobReport.model_validate_json(text)
    except ValidationError as exc:
        raise StorageError(f"the stored report of job {job_id} is damaged: {exc}") from None
