"""Numbered schema migrations, and one migrator per dialect.

A store ships its migrations as ``NNNN_<name>.sql`` files in one folder of its package and
records the applied ones in its own schema-version table (:class:`Schema`), so that the
outbox, the job store and the inbox can share a database and still upgrade independently.
Every migrator applies what the database lacks in one transaction and refuses a database
whose schema is newer than the installed faxpush.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, LiteralString

from faxpush._db.queries import split_statements
from faxpush.core.errors import StorageError

if TYPE_CHECKING:  # asyncpg is imported by the PostgreSQL stores only
    from asyncpg import Connection
    from asyncpg.pool import PoolConnectionProxy

    PgConnection = Connection[Any] | PoolConnectionProxy[Any]

_MIGRATION_NAME = re.compile(r"(\d{4})_(\w+)\.sql")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class Schema:
    """One store's schema: where its migrations live and where their versions are kept.

    ``table`` is written into the SQL (a table name cannot be a bound parameter), hence a
    literal fixed in each store's code and checked to be a plain identifier.
    """

    package: str
    folder: str  # "/"-separated, inside ``package``
    table: LiteralString  # the schema-version table
    lock: LiteralString  # PostgreSQL advisory-lock name: concurrent migrators take turns
    what: str  # "the database", "the inbox", … for messages

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.table):
            raise ValueError(f"schema-version table {self.table!r} is not a plain identifier")


@cache
def load_migrations(package: str, folder: str) -> tuple[Migration, ...]:
    """The migrations in ``folder`` of ``package``, by version; the versions must run 1…n."""
    directory = resources.files(package)
    for part in folder.split("/"):
        directory = directory.joinpath(part)
    found = []
    for entry in directory.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is not None:
            sql = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), sql))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if not found or versions != list(range(1, len(found) + 1)):
        raise StorageError(
            f"the migrations in {package}: {folder} shipped with faxpush are incomplete "
            f"(found versions {versions}); reinstall faxpush"
        )
    return tuple(found)


def _pending(schema: Schema, current: int, where: str) -> tuple[Migration, ...]:
    known = load_migrations(schema.package, schema.folder)
    if current > known[-1].version:
        raise StorageError(
            f"{schema.what} {where} has schema version {current}, newer than this faxpush "
            f"knows ({known[-1].version}); upgrade faxpush"
        )
    return known[current:]


# --- SQLite --------------------------------------------------------------------------------
def migrate_sqlite(conn: sqlite3.Connection, schema: Schema, *, where: str) -> int:
    """Apply the missing migrations on ``conn`` (in autocommit mode, outside a transaction)
    in one ``BEGIN IMMEDIATE`` transaction; return how many were applied."""
    table = schema.table
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS " + table + " (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        current_sql = "SELECT coalesce(max(version), 0) FROM " + table  # noqa: S608
        (current,) = conn.execute(current_sql).fetchone()
        pending = _pending(schema, current, where)
        applied_at = _micros(datetime.now(UTC))
        for migration in pending:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO " + table + " (version, name, applied_at) VALUES (?, ?, ?)",  # noqa: S608
                (migration.version, migration.name, applied_at),
            )
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")
    return len(pending)


def _micros(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- PostgreSQL ----------------------------------------------------------------------------
async def migrate_postgres(conn: PgConnection, schema: Schema, *, where: str) -> int:
    """Apply the missing migrations in one transaction; an advisory lock makes processes that
    start at once take turns. Return how many were applied."""
    table = schema.table
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", schema.lock)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS " + table + " (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL)"
        )
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM " + table)  # noqa: S608
        pending = _pending(schema, current, where)
        for migration in pending:
            await conn.execute(migration.sql)  # no arguments: a script of several statements
            await conn.execute(
                "INSERT INTO " + table + " (version, name, applied_at) VALUES ($1, $2, $3)",  # noqa: S608
                migration.version,
                migration.name,
                datetime.now(UTC),
            )
    return len(pending)
