"""The shared PostgreSQL migrator on a real database: once, concurrently, and refusing a
schema newer than faxpush."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from faxpush._db.migrations import Schema, migrate_postgres
from faxpush.core.errors import StorageError

pytestmark = pytest.mark.postgres

GOOD = Schema("tests.unit", "db_layer/good", "test_schema_version", "faxpush test", "the test db")


async def test_migrations_apply_once_even_when_five_processes_start_at_once(
    empty_pg_url: str,
) -> None:
    conns = [await asyncpg.connect(empty_pg_url) for _ in range(5)]
    try:
        applied = await asyncio.gather(*(migrate_postgres(c, GOOD, where="db") for c in conns))
        assert sorted(applied) == [0, 0, 0, 0, 2]
        rows = await conns[0].fetch("SELECT id, body, tag FROM notes")
        assert [tuple(row) for row in rows] == [(1, "one; two", None)]
        versions = await conns[0].fetch("SELECT version, name FROM test_schema_version")
        assert sorted(tuple(row) for row in versions) == [(1, "first"), (2, "second")]
    finally:
        for conn in conns:
            await conn.close()


async def test_a_database_newer_than_faxpush_is_refused(empty_pg_url: str) -> None:
    conn = await asyncpg.connect(empty_pg_url)
    try:
        await migrate_postgres(conn, GOOD, where="db")
        await conn.execute("INSERT INTO test_schema_version VALUES (3, 'future', now())")
        with pytest.raises(StorageError, match="the test db db has schema version 3, newer"):
            await migrate_postgres(conn, GOOD, where="db")
        assert not conn.is_in_transaction()
    finally:
        await conn.close()
