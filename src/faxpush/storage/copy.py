"""Copy an outbox into PostgreSQL: ``faxpush db copy sqlite:///faxpush.db postgresql://…``.

Accounts, pushes (with their state and attempt counts), attempt rows, cached tokens, the
emulator's logins and fax jobs (with their reports), the operator API's tokens, receiver
counters and health, and remembered idempotent answers, and the web console's users are
copied with their own keys and times, in one transaction on the target: a failed copy leaves
the target as it was. Pushes that were in flight go back to pending (no worker holds them on
the target). Every secret is opened with the source's key, so a wrong key stops the copy
before anything is written; it is copied as is, or re-sealed under ``target_cipher`` when one
is given. The row counts are checked before the target commits.

Stop the workers and the emulator on the source first: what they record after the copy
started is not copied. Other tables of the source are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg

from faxpush._db.postgres import SCHEMES, driver_url, redacted, translated
from faxpush.core.errors import ConfigurationError, InputError, StorageError
from faxpush.storage._copy_sources import (
    PUSHES,
    TABLES,
    WAS_IN_FLIGHT,
    PostgresSource,
    Row,
    Source,
    SqliteSource,
    Table,
)
from faxpush.storage._pg_admin import sql
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.factory import sqlite_path
from faxpush.storage.postgres import PostgresStore
from faxpush.storage.postgres_jobs import PostgresJobStore

if TYPE_CHECKING:
    Connection = asyncpg.Connection[asyncpg.Record]

DEFAULT_CHUNK = 1000
# Built from TABLES so that a table added to the copy is counted and emptied with it.
_COUNTS = ", ".join(f"(SELECT count(*) FROM {table.name}) AS {table.name}" for table in TABLES)  # noqa: S608 - names are constants
_COUNT_ROWS = f"SELECT {_COUNTS}"
_EMPTY_TABLES = f"TRUNCATE {', '.join(table.name for table in TABLES)} RESTART IDENTITY"
Progress = Callable[[str, int, int], None]  # table, rows copied so far, rows in all


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy moved."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)  # by table, verified on the target
    secrets: int = 0  # secrets opened (and re-sealed when a target key was given)
    resealed: bool = False
    requeued: int = 0  # pushes that were in flight and are pending on the target


async def copy_outbox(
    source_url: str,
    target_url: str,
    *,
    source_cipher: SecretCipher,
    target_cipher: SecretCipher | None = None,
    force: bool = False,
    progress: Progress | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> CopyReport:
    """Copy the outbox at ``source_url`` (SQLite or PostgreSQL) into the PostgreSQL database
    at ``target_url``, which must hold no outbox yet unless ``force`` (then it is replaced)."""
    if chunk < 1:
        raise InputError(f"chunk must be at least 1, got {chunk}")
    target_dsn = _target_dsn(source_url, target_url)
    store = await PostgresStore.open(target_dsn, target_cipher or source_cipher)
    try:
        await store.migrate()
        await PostgresJobStore(store).migrate()  # the emulator's tables are copied too
    finally:
        await store.close()
    source = await _open_source(source_url)
    try:
        copier = _Copier(source, source_cipher, target_cipher, progress or _quiet, chunk)
        return await copier.run(target_dsn, force=force)
    finally:
        await source.close()


def _target_dsn(source_url: str, target_url: str) -> str:
    if not _is_postgres(target_url):
        raise InputError(
            f"the copy target must be a postgresql:// URL, not {redacted(target_url)}; "
            "faxpush db copy moves an outbox into PostgreSQL"
        )
    if driver_url(target_url) == _normalised(source_url):
        raise InputError("the source and the target are the same database; name two databases")
    return driver_url(target_url)


def _is_postgres(url: str) -> bool:
    return url.partition("://")[0].lower() in SCHEMES


def _normalised(url: str) -> str:
    try:
        return driver_url(url)
    except ConfigurationError:
        return url


async def _open_source(url: str) -> Source:
    path = sqlite_path(url)
    if path is not None:
        return await SqliteSource.open(path)
    if _is_postgres(url):
        return await PostgresSource.open(url)
    raise InputError(
        f"cannot copy from {redacted(url)}: the source must be a sqlite:// or postgresql:// URL"
    )


def _quiet(table: str, done: int, total: int) -> None:
    """The default progress callback: says nothing."""


@dataclass(slots=True, eq=False)
class _Copier:
    source: Source
    open_with: SecretCipher  # the source's key
    seal_with: SecretCipher | None  # the target's, when secrets are re-sealed
    progress: Progress
    chunk: int
    secrets: int = field(default=0, init=False)
    requeued: int = field(default=0, init=False)

    async def run(self, target_dsn: str, *, force: bool) -> CopyReport:
        where = redacted(target_dsn)
        with translated("open the copy target", where):
            conn = await asyncpg.connect(target_dsn, timeout=10)
        try:
            with translated("copy the outbox", where):
                async with conn.transaction():
                    await self._prepare(conn, where, force=force)
                    expected = {table.name: await self.source.count(table) for table in TABLES}
                    for table in TABLES:
                        await self._copy_table(conn, table, expected[table.name])
                    await conn.execute(*sql("copy_reset_identities"))
                    await self._verify(conn, where, expected)
        finally:
            await conn.close()
        return CopyReport(
            source=self.source.description,
            target=where,
            rows=expected,
            secrets=self.secrets,
            resealed=self.seal_with is not None,
            requeued=self.requeued,
        )

    async def _prepare(self, conn: Connection, where: str, *, force: bool) -> None:
        existing = await conn.fetchrow(_COUNT_ROWS)
        assert existing is not None  # an aggregate query returns one row
        held = {name: count for name, count in existing.items() if count}
        if held and not force:
            listed = ", ".join(f"{count:,} {name}" for name, count in held.items())
            raise InputError(
                f"the target {where} already holds an outbox ({listed}); copy into an empty "
                "database, or pass --force to replace what it holds"
            )
        if held:
            await conn.execute(_EMPTY_TABLES)

    async def _copy_table(self, conn: Connection, table: Table, total: int) -> None:
        done = 0
        self.progress(table.name, 0, total)
        async for rows in self.source.rows(table, self.chunk):
            records = [self._record(table, row) for row in rows]
            await conn.copy_records_to_table(table.name, records=records, columns=table.columns)
            done += len(records)
            self.progress(table.name, done, total)

    def _record(self, table: Table, row: Row) -> tuple[Any, ...]:
        for column in table.sealed:
            if row[column] is None:
                continue
            secret = self.open_with.decrypt(row[column])  # a wrong key stops here
            if self.seal_with is not None:
                row[column] = self.seal_with.encrypt(secret)
            self.secrets += 1
        if table is PUSHES and row.get(WAS_IN_FLIGHT):
            self.requeued += 1
        return tuple(row[column] for column in table.columns)

    async def _verify(self, conn: Connection, where: str, expected: dict[str, int]) -> None:
        counted = await conn.fetchrow(_COUNT_ROWS)
        assert counted is not None
        found = dict(counted)
        if found != expected:
            raise StorageError(
                f"the copy into {where} does not add up (source {expected}, target {found}); "
                "nothing was committed - were workers still writing to the source?"
            )
