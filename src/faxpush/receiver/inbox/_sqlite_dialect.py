"""The SQLite inbox's dialect: its schema, its queries (in ``receiver/sql/inbox/``) and its
times, INTEGER microseconds since the Unix epoch (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, LiteralString

from faxpush._db.migrations import Schema
from faxpush._db.queries import load_queries
from faxpush.core.errors import StorageError

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
    """``value`` as stored; naive times are refused."""
    if value.tzinfo is None:
        raise StorageError("inbox times must be timezone-aware")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def time_of(value: int) -> datetime:
    """A stored time as a datetime."""
    return _EPOCH + timedelta(microseconds=value)
