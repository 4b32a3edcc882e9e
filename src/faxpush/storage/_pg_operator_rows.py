"""Conversions of the PostgreSQL store's operator part: rows to records, and calls to the
parameters of its queries (``operator_queries.sql``, and the counters of ``finish``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from faxpush._db.migrations import load_migrations
from faxpush._db.postgres_queries import PgQueries
from faxpush.storage._common import to_micros
from faxpush.storage._operator_common import per_receiver, samples_of
from faxpush.storage._pg_admin import SCHEMA
from faxpush.storage._pg_rows import as_stored
from faxpush.storage._rows_common import answer_from_row as common_answer_from_row
from faxpush.storage._rows_common import token_from_row as common_token_from_row
from faxpush.storage.base import AttemptResult
from faxpush.storage.operator import (
    ApiToken,
    ConsoleUser,
    IdempotentAnswer,
    PushFilter,
)

Params = dict[str, Any]
QUERIES = PgQueries("faxpush.storage", "sql/postgresql/operator_queries.sql")


def operator_sql(name: str, params: Params | None = None) -> list[Any]:
    """The named operator query followed by its positional arguments."""
    return QUERIES.bind(name, params)


def counter_params(
    results: Sequence[AttemptResult], receiver_of: Callable[[AttemptResult], str | None]
) -> Params:
    """The ``:c_*`` and ``:h_*`` parameters of ``finish``: the batch's counter deltas (one
    per receiver and bucket) and health updates (one per receiver)."""
    deltas, firsts = per_receiver(samples_of(results, receiver_of))
    return {
        "c_receivers": [delta.receiver for delta in deltas],
        "c_bucket_starts": [delta.bucket_start for delta in deltas],
        "c_attempts": [delta.attempts for delta in deltas],
        "c_successes": [delta.successes for delta in deltas],
        "c_histograms": [list(delta.histogram) for delta in deltas],
        "h_receivers": [delta.receiver for delta in firsts],
        "h_trailing_failures": [delta.trailing_failures for delta in firsts],
        "h_last_errors": [delta.last_error for delta in firsts],
        "h_last_error_at": [delta.last_error_at for delta in firsts],
        "h_last_attempt_at": [delta.last_attempt_at for delta in firsts],
        "h_reset_receivers": [delta.receiver for delta in firsts if delta.reset],
    }


def filter_params(where: PushFilter) -> Params:
    """The optional filter parameters of ``find_pushes`` and ``redeliver_matching``."""
    since = where.since
    if since is not None:
        to_micros(since, name="since")
    return {
        "state": None if where.state is None else where.state.value,
        "job_id": where.job_id,
        "receiver": where.receiver,
        "since": since,
    }


def token_from_row(row: asyncpg.Record) -> ApiToken:
    """An API token from a row of ``api_tokens``."""
    return common_token_from_row(row, as_stored)


def console_user_from_row(row: asyncpg.Record) -> ConsoleUser:
    """A console user from a row of ``console_users``."""
    return ConsoleUser(
        name=row["name"], password_hash=row["password_hash"], created_at=row["created_at"]
    )


def answer_from_row(row: asyncpg.Record) -> IdempotentAnswer:
    """An idempotent answer from a row of ``idempotency_answers``."""
    return common_answer_from_row(row, as_stored)


def schema_lag(current: int, where: str) -> str | None:
    """Why a database at schema version ``current`` is not ready, or None when it is current."""
    newest = load_migrations(SCHEMA.package, SCHEMA.folder)[-1].version
    if current < newest:
        return (
            f"the database {where} has schema version {current} and this faxpush needs "
            f"{newest}; run `faxpush db migrate`"
        )
    if current > newest:
        return (
            f"the database {where} has schema version {current}, newer than this faxpush "
            f"knows ({newest}); upgrade faxpush"
        )
    return None
