"""The PostgreSQL inbox's dialect: its schema, its queries (in
``receiver/sql/inbox_postgresql/``, compiled to asyncpg's ``$n`` form) and its times,
``timestamptz`` values that the driver returns as datetimes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, Final

from faxpush._db.migrations import Schema
from faxpush._db.queries import load_queries
from faxpush.core.errors import StorageError
from faxpush.storage._pg_sql import Query, compile_query

SCHEMA: Final = Schema(
    "faxpush.receiver",
    "sql/inbox_postgresql",
    "inbox_schema_version",
    "faxpush inbox schema migration",
    "the inbox",
)
QUERY_FILE: Final = "sql/inbox_postgresql/queries.sql"


@cache
def _compiled(name: str) -> Query:
    try:
        text = load_queries("faxpush.receiver", QUERY_FILE)[name].sql
    except KeyError:
        raise StorageError(f"no PostgreSQL inbox query named {name!r}; this is a bug") from None
    return compile_query(name, text)


def sql(name: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """The named query followed by its positional arguments: ``conn.fetch(*sql(...))``."""
    compiled = _compiled(name)
    return [compiled.text, *compiled.args(params or {})]


def checked(value: datetime) -> datetime:
    """``value``, refused when it is naive (every inbox time is timezone-aware)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StorageError("inbox times must be timezone-aware")
    return value


def time_of(value: datetime) -> datetime:
    """A stored time: the driver has made it a datetime already."""
    return value
