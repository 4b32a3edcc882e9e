"""The PostgreSQL outbox's named queries and schema, and secret rotation (the outbox's, and the
chunked re-seal the job store uses too)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
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
            count += await reseal(conn, cipher, text, partial(sql, f"update_{table}_secrets"))
    return count


async def reseal(
    conn: PooledConnection,
    cipher: SecretCipher,
    secrets_query: str,
    update: Callable[[dict[str, Any]], list[Any]],
) -> int:
    """Re-seal the secrets ``secrets_query`` reads (``id``, ``secret`` rows) under the
    cipher's primary key, ROTATE_CHUNK at a time, inside the caller's transaction (a cursor
    needs one); ``update`` binds the statement that writes a chunk back (``ids``,
    ``secrets``). Returns how many there were."""
    count = 0
    chunk: list[tuple[str, bytes]] = []
    async for row in conn.cursor(secrets_query, prefetch=ROTATE_CHUNK):
        chunk.append((row["id"], cipher.rotate(row["secret"])))
        if len(chunk) >= ROTATE_CHUNK:
            count += await _write_back(conn, update, chunk)
    return count + await _write_back(conn, update, chunk)


async def _write_back(
    conn: PooledConnection,
    update: Callable[[dict[str, Any]], list[Any]],
    chunk: list[tuple[str, bytes]],
) -> int:
    """Write re-sealed secrets back; empties ``chunk`` and returns how many there were."""
    if not chunk:
        return 0
    await conn.execute(
        *update({"ids": [key for key, _ in chunk], "secrets": [s for _, s in chunk]})
    )
    count = len(chunk)
    chunk.clear()
    return count
