"""The outbox's SQLite SQL: its schema (the numbered migrations in ``sql/sqlite/``) and its
named queries (``sql/sqlite/queries.sql``), for the store, its store process and the copy."""

from __future__ import annotations

from typing import LiteralString

from faxpush._db.migrations import Schema
from faxpush._db.queries import load_queries, split_statements

__all__ = ["SCHEMA", "connection_setup", "sql"]

SCHEMA = Schema(
    "faxpush.storage", "sql/sqlite", "schema_version", "faxpush schema migration", "the database"
)
_QUERIES = "sql/sqlite/queries.sql"


def sql(name: str) -> LiteralString:
    """The text of the outbox's named query ``name``."""
    return load_queries(SCHEMA.package, _QUERIES)[name].sql


def connection_setup() -> list[str]:
    """The statements every outbox connection runs first (its pragmas)."""
    return split_statements(sql("connection_setup"))
