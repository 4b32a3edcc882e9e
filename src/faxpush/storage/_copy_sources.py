"""Where ``faxpush db copy`` reads an outbox (and the emulator's jobs beside it) from: a
SQLite file or a PostgreSQL database.

Each source yields rows as dictionaries keyed by the PostgreSQL column names, with values
already in PostgreSQL's types (aware datetimes, booleans, bytes, JSON text), read in one
snapshot so that the copy is consistent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from faxpush._db.migrations import load_migrations
from faxpush._db.postgres import driver_url, redacted, translated
from faxpush._db.sqlite import SqliteThread
from faxpush.core.errors import ConfigurationError, StorageError
from faxpush.core.receiver_stats import HISTOGRAM_COLUMNS
from faxpush.storage._common import from_micros
from faxpush.storage._sqlite_sql import SCHEMA
from faxpush.storage.base import receiver_key

Row = dict[str, Any]
_BUSY_TIMEOUT = timedelta(seconds=5)
WAS_IN_FLIGHT = "_was_in_flight"


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the outbox or the emulator as the copy sees it."""

    name: str
    key: str  # rows are read in this order
    columns: tuple[str, ...]
    sealed: tuple[str, ...] = ()  # the columns holding ciphertext
    times: tuple[str, ...] = ()  # integer microseconds in SQLite
    flags: tuple[str, ...] = ()  # 0/1 integers in SQLite
    optional: bool = False  # a source may lack it: then it has no rows


ACCOUNTS = Table(
    "accounts",
    "customer_number",
    (
        "customer_number", "push_format", "push_template", "push_template_content_type",
        "push_url", "push_auth", "push_principal", "push_credentials", "oauth2_token_url",
        "oauth2_client_auth", "retry_client_errors", "push_ca_pem", "push_client_cert",
        "push_client_key",
    ),
    sealed=("push_credentials", "push_client_key"),
    flags=("retry_client_errors",),
)  # fmt: skip
PUSHES = Table(
    "pushes",
    "seq",
    (
        "seq", "delivery_id", "job_id", "customer_number", "target_url", "receiver",
        "target_auth", "target_principal", "target_credentials", "target_token_url",
        "target_client_auth", "content_type", "body", "retry_client_errors", "max_attempts",
        "state", "attempts", "next_attempt_at", "claimed_until", "claim_id", "last_error",
        "created_at", "updated_at", "target_ca_pem", "target_client_cert", "target_client_key",
    ),
    sealed=("target_credentials", "target_client_key"),
    times=("next_attempt_at", "claimed_until", "created_at", "updated_at"),
    flags=("retry_client_errors",),
)  # fmt: skip
ATTEMPTS = Table(
    "attempts",
    "id",
    (
        "id", "delivery_id", "number", "started_at", "duration_ms", "http_status",
        "error_class", "error_message", "response_headers", "response_body", "auth_steps",
    ),
    times=("started_at",),
)  # fmt: skip
TOKENS = Table(
    "oauth_tokens", "cache_key", ("cache_key", "token", "expires_at"), sealed=("token",),
    times=("expires_at",),
)  # fmt: skip
# The emulator's tables (the job store's, sql/jobs_*/): an outbox the emulator never used
# has none. finish_batch, PostgreSQL's only, stays NULL.
LOGINS = Table(
    "rest_logins", "login", ("login", "customer_number", "password_hash", "created_at"),
    times=("created_at",), optional=True,
)  # fmt: skip
JOBS = Table(
    "fax_jobs",
    "seq",
    (
        "seq", "job_id", "customer_number", "login", "state", "plan", "finish_at",
        "target_url", "target_auth", "target_principal", "target_credentials",
        "target_token_url", "target_client_auth", "dedup_key", "created_at", "finished_at",
        "purge_at", "report",
    ),
    sealed=("target_credentials",),
    times=("finish_at", "created_at", "finished_at", "purge_at"),
    optional=True,
)  # fmt: skip
# The operator API's tables (migration 0005): its tokens, the receivers' counters and
# health, and the answers kept for Idempotency-Key retries (so that a client retrying a
# request after the move still gets its first answer, not a second push).
API_TOKENS = Table(
    "api_tokens", "name",
    ("name", "scope", "token_hash", "created_at", "last_used_at", "revoked_at"),
    times=("created_at", "last_used_at", "revoked_at"), optional=True,
)  # fmt: skip
RECEIVER_HEALTH = Table(
    "receiver_health", "receiver",
    ("receiver", "consecutive_failures", "last_error", "last_error_at", "last_attempt_at"),
    times=("last_error_at", "last_attempt_at"), optional=True,
)  # fmt: skip
RECEIVER_COUNTS = Table(
    "receiver_counts", "receiver, bucket_start",
    ("receiver", "bucket_start", "attempts", "successes", *HISTOGRAM_COLUMNS),
    times=("bucket_start",), optional=True,
)  # fmt: skip
IDEMPOTENCY_ANSWERS = Table(
    "idempotency_answers", "key",
    ("key", "request_hash", "status", "body", "created_at", "expires_at"),
    times=("created_at", "expires_at"), optional=True,
)  # fmt: skip
# The web console's users (migration 0006), with their password hashes.
CONSOLE_USERS = Table(
    "console_users", "name", ("name", "password_hash", "created_at"), times=("created_at",),
    optional=True,
)  # fmt: skip
TABLES = (
    ACCOUNTS, PUSHES, ATTEMPTS, TOKENS, LOGINS, JOBS,
    API_TOKENS, RECEIVER_HEALTH, RECEIVER_COUNTS, IDEMPOTENCY_ANSWERS, CONSOLE_USERS,
)  # fmt: skip  # parents before children


# SQLite keeps push bodies in their own table; this view puts them back into the rows.
_SQLITE_READ_FROM = {"pushes": "pushes_with_body"}


def select_all(table: Table, source: str | None = None) -> str:
    """The query reading ``table``'s copied columns (from ``source``, default the table
    itself) in key order."""
    return f"SELECT {', '.join(table.columns)} FROM {source or table.name} ORDER BY {table.key}"  # noqa: S608 - names are constants


def _missing(table: Table, present: set[str]) -> bool:
    """Whether the source lacks ``table`` and may (then it has no rows)."""
    return table.optional and table.name not in present


class Source(Protocol):
    """An outbox to copy from."""

    description: str

    async def count(self, table: Table) -> int: ...

    def rows(self, table: Table, chunk: int) -> AsyncIterator[list[Row]]: ...

    async def close(self) -> None: ...


class SqliteSource:
    """A SQLite outbox, opened read-only and read inside one transaction (a snapshot)."""

    def __init__(self, connection: SqliteThread, path: Path) -> None:
        self._connection = connection
        self.description = str(path)
        self._tables: set[str] = set()

    @classmethod
    async def open(cls, path: Path) -> SqliteSource:
        """Open ``path`` read-only; refuse it unless its schema is the current one."""
        _check_exists(path)
        connection = await SqliteThread.open(
            str(path), _BUSY_TIMEOUT, name=str(path), read_only=True, thread_name="faxpush-copy"
        )
        source = cls(connection, path)
        try:
            await source._check_schema()
            source._tables = await connection.run("list the tables", _tables, write=False)
        except BaseException:
            await connection.close()
            raise
        return source

    async def _check_schema(self) -> None:
        latest = load_migrations(SCHEMA.package, SCHEMA.folder)[-1].version
        try:
            version = await self._connection.run(
                "read the schema version", _schema_version, write=False
            )
        except StorageError as exc:
            raise StorageError(
                f"{self.description} holds no faxpush schema ({exc.__cause__}); is it a "
                "faxpush database?"
            ) from exc.__cause__
        if version != latest:
            raise StorageError(
                f"{self.description} has schema version {version}, this faxpush expects "
                f"{latest}; run `faxpush db migrate` on it with the same faxpush version first"
            )

    async def count(self, table: Table) -> int:
        if _missing(table, self._tables):
            return 0
        query = f"SELECT count(*) FROM {table.name}"  # noqa: S608 - constant
        return await self._connection.run(
            f"count {table.name}", lambda conn: int(conn.execute(query).fetchone()[0]), write=False
        )

    async def rows(self, table: Table, chunk: int) -> AsyncIterator[list[Row]]:
        if _missing(table, self._tables):
            return
        query = select_all(table, _SQLITE_READ_FROM.get(table.name))
        action = f"read {table.name}"
        cursor = await self._connection.run(action, lambda conn: conn.execute(query), write=False)
        try:
            while batch := await self._connection.run(
                action, lambda _: cursor.fetchmany(chunk), write=False
            ):
                yield [_from_sqlite(table, dict(row)) for row in batch]
        finally:
            await self._connection.run(action, lambda _: cursor.close(), write=False)

    async def close(self) -> None:
        await self._connection.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])


class PostgresSource:
    """A PostgreSQL outbox, read in one read-only repeatable-read transaction."""

    def __init__(self, connection: asyncpg.Connection[asyncpg.Record], url: str) -> None:
        self._connection = connection
        self._transaction = connection.transaction(isolation="repeatable_read", readonly=True)
        self.description = redacted(url)
        self._tables: set[str] = set()

    @classmethod
    async def open(cls, url: str) -> PostgresSource:
        dsn = driver_url(url)
        with translated("open the source", redacted(dsn)):
            connection = await asyncpg.connect(dsn, timeout=10)
        source = cls(connection, dsn)
        await source._transaction.start()
        found = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        source._tables = {row["tablename"] for row in found}
        return source

    async def count(self, table: Table) -> int:
        if _missing(table, self._tables):
            return 0
        counted: int = await self._connection.fetchval(f"SELECT count(*) FROM {table.name}")  # noqa: S608 - constant
        return counted

    async def rows(self, table: Table, chunk: int) -> AsyncIterator[list[Row]]:
        if _missing(table, self._tables):
            return
        batch: list[Row] = []
        async for record in self._connection.cursor(select_all(table), prefetch=chunk):
            batch.append(_settled(table, dict(record)))
            if len(batch) >= chunk:
                yield batch
                batch = []
        if batch:
            yield batch

    async def close(self) -> None:
        await self._transaction.rollback()
        await self._connection.close()


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise ConfigurationError(f"the source database {path} does not exist; check the URL")


def _from_sqlite(table: Table, row: Row) -> Row:
    for name in table.times:
        if row[name] is not None:
            row[name] = from_micros(row[name])
    for name in table.flags:
        row[name] = bool(row[name])
    if table is PUSHES:
        row["receiver"] = row.get("receiver") or receiver_key(row["target_url"])
    return _settled(table, row)


def _settled(table: Table, row: Row) -> Row:
    """A push that was in flight goes back to pending: no worker holds it on the target.
    Such rows carry ``WAS_IN_FLIGHT`` (not a column) so that the copy can count them."""
    if table is PUSHES and row["state"] == "in_flight":
        row.update(state="pending", claim_id=None, claimed_until=None)
        row[WAS_IN_FLIGHT] = True
    return row
