"""The PostgreSQL inbox's dialect: its schema, its queries (in
``receiver/sql/inbox_postgresql/``, compiled to asyncpg's ``$n`` form) and its times,
``timestamptz`` values that the driver returns as datetimes."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from faxpush._db.migrations import Schema
from faxpush._db.postgres_queries import PgQueries
from faxpush.core.errors import StorageError

SCHEMA: Final = Schema(
    "faxpush.receiver",
    "sql/inbox_postgresql",
    "inbox_schema_version",
    "faxpush inbox schema migration",
    "the inbox",
)
QUERIES: Final = PgQueries("faxpush.receiver", "sql/inbox_postgresql/queries.sql")


def checked(value: datetime) -> datetime:
    """``value``, refused when it is naive (every inbox time is timezone-aware)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StorageError("inbox times must be timezone-aware")
    return value


def time_of(value: datetime) -> datetime:
    """A stored time: the driver has made it a datetime already."""
    return value
