"""Queries, schema and row conversion for the PostgreSQL inbox (SQL lives in
``receiver/sql/inbox_postgresql/``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, Final

import asyncpg

from faxpush._db.migrations import Schema
from faxpush._db.postgres_queries import PgQuery, compile_sql
from faxpush._db.queries import load_queries
from faxpush.core.errors import StorageError
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.receiver.inbox.base import HandlerTask, InboxEntry, TaskState
from faxpush.receiver.parse import parse

SCHEMA: Final = Schema(
    "faxpush.receiver",
    "sql/inbox_postgresql",
    "inbox_schema_version",
    "faxpush inbox schema migration",
    "the inbox",
)
QUERY_FILE: Final = "sql/inbox_postgresql/queries.sql"


@cache
def _compiled(name: str) -> PgQuery:
    try:
        text = load_queries("faxpush.receiver", QUERY_FILE)[name].sql
    except KeyError:
        raise StorageError(f"no PostgreSQL inbox query named {name!r}; this is a bug") from None
    return compile_sql(name, text)


def sql(name: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """The named query followed by its positional arguments: ``conn.fetch(*sql(...))``."""
    compiled = _compiled(name)
    return [compiled.text, *compiled.args(params or {})]


def checked(value: datetime) -> datetime:
    """``value``, refused when it is naive (every inbox time is timezone-aware)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StorageError("inbox times must be timezone-aware")
    return value


def entry_from_row(row: asyncpg.Record) -> InboxEntry:
    body = bytes(row["body"])
    if row["report"] is None:
        report = parse(body, row["content_type"])
    else:
        report = FaxJobReport.model_validate_json(row["report"])
    return InboxEntry(
        key=row["key"],
        content_type=row["content_type"],
        body=body,
        report=report,
        auth_method=AuthMethod(row["auth_method"]),
        principal=row["principal"],
        delivery_id=row["delivery_id"],
        received_at=row["received_at"],
        last_received_at=row["last_received_at"],
        times_received=row["times_received"],
    )


def task_from_row(row: asyncpg.Record) -> HandlerTask:
    return HandlerTask(
        key=row["entry_key"],
        handler=row["handler"],
        state=TaskState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        claim_id=row["claim_id"],
        claimed_until=row["claimed_until"],
        done_at=row["done_at"],
    )
