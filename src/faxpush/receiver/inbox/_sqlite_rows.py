"""Queries, schema and row conversion for the SQLite inbox (SQL lives in
``receiver/sql/inbox/``)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Final, LiteralString

from faxpush._db.migrations import Schema
from faxpush._db.queries import load_queries
from faxpush.core.errors import StorageError
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.receiver.inbox.base import HandlerTask, InboxEntry, TaskState
from faxpush.receiver.parse import parse

SCHEMA: Final = Schema(
    "faxpush.receiver",
    "sql/inbox",
    "inbox_schema_version",
    "faxpush inbox schema migration",
    "the inbox",
)
QUERY_FILE: Final = "sql/inbox/queries.sql"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def sql(name: str) -> LiteralString:
    """The named query of ``receiver/sql/inbox/queries.sql``."""
    return load_queries("faxpush.receiver", QUERY_FILE)[name].sql


def micros(value: datetime) -> int:
    if value.tzinfo is None:
        raise StorageError("inbox times must be timezone-aware")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def time_of(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def entry_from_row(row: sqlite3.Row) -> InboxEntry:
    received = time_of(row["received_at"])
    last = time_of(row["last_received_at"])
    assert received is not None
    assert last is not None
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
        received_at=received,
        last_received_at=last,
        times_received=row["times_received"],
    )


def task_from_row(row: sqlite3.Row) -> HandlerTask:
    due = time_of(row["next_attempt_at"])
    assert due is not None
    return HandlerTask(
        key=row["entry_key"],
        handler=row["handler"],
        state=TaskState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=due,
        last_error=row["last_error"],
        claim_id=row["claim_id"],
        claimed_until=time_of(row["claimed_until"]),
        done_at=time_of(row["done_at"]),
    )
