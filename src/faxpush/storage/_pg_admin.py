"""The PostgreSQL outbox's named queries and schema, and its secret rotation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faxpush._db.migrations import Schema
from faxpush._db.postgres_queries import PgQueries, PgQuery
from faxpush.storage.cipher import SecretCipher

if TYPE_CHECKING:
    from faxpush._db.postgres import PooledConnection

QUERIES = PgQueries("faxpush.storage", "sql/postgresql/queries.sql")
SCHEMA = Schema(
    "faxpush.storage",
    "sql/postgresql",
    "schema_version",
    "faxpush schema migration",
    "the database",
)
ROTATE_CHUNK = 500


def query(name: str) -> PgQuery:
    """The named outbox query, compiled."""
    return QUERIES[name]


def sql(name: str, params: dict[str, Any] | None = None) -> list[Any]:
    """The named query followed by its positional arguments: ``conn.fetch(*sql(...))``."""
    return QUERIES.bind(name, params)


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
