"""Whole-database work of the PostgreSQL store: schema migrations and secret rotation."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from faxpush._db.postgres_queries import PgQuery, compile_sql
from faxpush.core.errors import StorageError
from faxpush.storage._sqlfiles import migrations, queries
from faxpush.storage.cipher import SecretCipher

if TYPE_CHECKING:
    from faxpush._db.postgres import PooledConnection

DIALECT = "postgresql"
ROTATE_CHUNK = 500


@cache
def query(name: str) -> PgQuery:
    """The named PostgreSQL query, compiled."""
    try:
        text = queries(DIALECT)[name]
    except KeyError:
        raise StorageError(f"no PostgreSQL query named {name!r}; this is a bug") from None
    return compile_sql(name, text)


def sql(name: str, params: dict[str, Any] | None = None) -> list[Any]:
    """The named query followed by its positional arguments: ``conn.fetch(*sql(...))``."""
    return query(name).bind(params)


async def migrate_schema(conn: PooledConnection, where: str) -> None:
    """Apply the migrations the database lacks, in one transaction. An advisory lock makes
    concurrent callers (several workers starting at once) take turns."""
    known = migrations(DIALECT)
    async with conn.transaction():
        await conn.execute(*sql("lock_migrations"))
        await conn.execute(*sql("create_schema_version"))
        current = await conn.fetchval(*sql("current_schema_version"))
        if current > known[-1].version:
            raise StorageError(
                f"the database {where} has schema version {current}, newer than this "
                f"faxpush knows ({known[-1].version}); upgrade faxpush"
            )
        for migration in known[current:]:
            await conn.execute(migration.sql)  # no arguments: several statements may run
            record = {
                "version": migration.version,
                "name": migration.name,
                "applied_at": datetime.now(UTC),
            }
            await conn.execute(*sql("record_schema_version", record))


async def rotate_all(conn: PooledConnection, cipher: SecretCipher) -> int:
    """Re-seal every stored secret under the cipher's primary key, in one transaction,
    reading and writing in chunks; return how many there were."""
    count = 0
    async with conn.transaction():
        for table in ("push", "push_key", "account", "account_key", "token"):
            (text,) = sql(f"{table}_secrets")
            chunk: list[tuple[str, bytes]] = []
            async for row in conn.cursor(text, prefetch=ROTATE_CHUNK):
                chunk.append((row["id"], cipher.rotate(row["secret"])))
                if len(chunk) >= ROTATE_CHUNK:
                    count += await _reseal(conn, table, chunk)
            count += await _reseal(conn, table, chunk)
    return count


async def _reseal(conn: PooledConnection, table: str, chunk: list[tuple[str, bytes]]) -> int:
    """Write re-sealed secrets back; empties ``chunk`` and returns how many there were."""
    if not chunk:
        return 0
    params = {"ids": [key for key, _ in chunk], "secrets": [sealed for _, sealed in chunk]}
    await conn.execute(*sql(f"update_{table}_secrets", params))
    count = len(chunk)
    chunk.clear()
    return count
