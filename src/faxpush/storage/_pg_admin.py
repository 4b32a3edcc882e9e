"""The PostgreSQL outbox's named queries and schema, and secret rotation (the outbox's, and the
chunked re-seal the job store uses too)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, LiteralString

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


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column of sealed secrets: its table, the key that finds a row again (and that key's
    type), and the column."""

    table: LiteralString
    key: LiteralString
    key_type: LiteralString
    column: LiteralString

    def query(self, template: str) -> PgQuery:
        """The ``sealed_secrets`` or ``update_sealed_secrets`` template, on this column."""
        return _filled(self, template)


# In the order rotate_all re-seals them (the job store's is postgres_jobs.JOB_SECRETS).
OUTBOX_SEALED = (
    SealedColumn("pushes", "seq", "bigint", "target_credentials"),
    SealedColumn("pushes", "seq", "bigint", "target_client_key"),
    SealedColumn("accounts", "customer_number", "text", "push_credentials"),
    SealedColumn("accounts", "customer_number", "text", "push_client_key"),
    SealedColumn("oauth_tokens", "cache_key", "text", "token"),
)


@cache
def _filled(column: SealedColumn, template: str) -> PgQuery:
    query = QUERIES[template]
    text = query.text
    for part in ("table", "key", "key_type", "column"):
        text = text.replace(f"{{{part}}}", getattr(column, part))
    return PgQuery(f"{template} of {column.table}.{column.column}", text, query.names)


async def rotate_all(conn: PooledConnection, cipher: SecretCipher) -> int:
    """Re-seal every stored secret under the cipher's primary key, in one transaction,
    reading and writing in chunks; return how many there were."""
    count = 0
    async with conn.transaction():
        for column in OUTBOX_SEALED:
            count += await reseal(conn, cipher, column)
    return count


async def reseal(conn: PooledConnection, cipher: SecretCipher, column: SealedColumn) -> int:
    """Re-seal the secrets of ``column`` under the cipher's primary key, ROTATE_CHUNK at a
    time, inside the caller's transaction (a cursor needs one, and the rows stay locked
    until it commits). Returns how many there were."""
    update = column.query("update_sealed_secrets")
    count = 0
    chunk: list[tuple[str, bytes]] = []
    async for row in conn.cursor(column.query("sealed_secrets").text, prefetch=ROTATE_CHUNK):
        chunk.append((row["id"], cipher.rotate(row["secret"])))
        if len(chunk) >= ROTATE_CHUNK:
            count += await _write_back(conn, update, chunk)
    return count + await _write_back(conn, update, chunk)


async def _write_back(
    conn: PooledConnection, update: PgQuery, chunk: list[tuple[str, bytes]]
) -> int:
    """Write re-sealed secrets back; empties ``chunk`` and returns how many there were."""
    if not chunk:
        return 0
    await conn.execute(
        *update.bind({"ids": [key for key, _ in chunk], "secrets": [s for _, s in chunk]})
    )
    count = len(chunk)
    chunk.clear()
    return count
