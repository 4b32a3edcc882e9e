"""The SQLite outbox's writes besides claims and results (:mod:`._sqlite_hot`): each a
``@sqlite_work`` function of a connection and plain data, run by
:meth:`SqliteStore.write <faxpush.storage.sqlite.SqliteStore.write>` in one write transaction,
on the store's thread or in its store process.

They get their parameters ready to bind: secrets arrive sealed and leave sealed, so that the
cipher's keys stay in the process that opened the store. Rows come back as plain dicts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from faxpush._db.migrations import Schema, migrate_sqlite
from faxpush.storage._sqlite_hot import sqlite_work, sqlite_work_committing_itself
from faxpush.storage._sqlite_sql import sql

Params = dict[str, Any]
Row = dict[str, Any]
# A table's re-sealed secrets: the query that reads them (id, secret), the one that stores
# one, and (id, secret as read, secret re-sealed) for each.
Reseal = tuple[str, str, list[tuple[Any, bytes, bytes]]]


def dict_rows(cursor: sqlite3.Cursor) -> list[Row]:
    """A cursor's rows as dicts (whatever the connection's row factory)."""
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def insert_push(conn: sqlite3.Connection, params: Params, body: bytes) -> Row | None:
    """Insert a push and its body inside the caller's transaction; None when the delivery id
    exists already (enqueue is idempotent). ``params``: ``_sqlite_rows.push_params``."""
    row = next(iter(dict_rows(conn.execute(sql("insert_push"), params))), None)
    if row is not None:
        conn.execute(sql("insert_body"), {"seq": row["seq"], "body": body})
    return row


@sqlite_work
def enqueue(conn: sqlite3.Connection, params: Params, body: bytes) -> tuple[Row, bool]:
    """Insert a push, or find the one with its delivery id: (its row, whether inserted)."""
    row = insert_push(conn, params, body)
    if row is not None:
        return row, True
    found = dict_rows(conn.execute(sql("get_push"), {"delivery_id": params["delivery_id"]}))
    return found[0], False


@sqlite_work
def enqueue_many(conn: sqlite3.Connection, pushes: Sequence[tuple[Params, bytes]]) -> int:
    """Insert many pushes; how many were new."""
    return sum(insert_push(conn, params, body) is not None for params, body in pushes)


@sqlite_work
def put_account(conn: sqlite3.Connection, params: Params) -> None:
    """Insert or replace an account's push settings."""
    conn.execute(sql("put_account"), params)


@sqlite_work
def renew(conn: sqlite3.Connection, params: Params) -> list[str]:
    """Extend the leases still held; their delivery ids."""
    return [row[0] for row in conn.execute(sql("renew_claims"), params).fetchall()]


@sqlite_work
def release(conn: sqlite3.Connection, params: Params) -> list[str]:
    """Return held pushes to pending; their delivery ids."""
    return [row[0] for row in conn.execute(sql("release_claims"), params).fetchall()]


@sqlite_work
def redeliver(conn: sqlite3.Connection, params: Params) -> int:
    """Put finished pushes back to pending; how many."""
    return conn.execute(sql("redeliver"), params).rowcount


@sqlite_work
def put_token(conn: sqlite3.Connection, sweep: Params, params: Params) -> None:
    """Cache a sealed token, dropping some that expired."""
    conn.execute(sql("delete_expired_tokens"), sweep)
    conn.execute(sql("put_token"), params)


@sqlite_work
def reseal(conn: sqlite3.Connection, tables: Sequence[Reseal]) -> int:
    """Store re-sealed secrets, each only where the stored one is still the one that was
    read (a secret written since was sealed by its writer); how many were stored."""
    count = 0
    for select, update, secrets in tables:
        current = dict(conn.execute(select).fetchall())
        changes = [
            {"id": key, "secret": new} for key, old, new in secrets if current.get(key) == old
        ]
        conn.executemany(update, changes)
        count += len(changes)
    return count


@sqlite_work_committing_itself
def migrate(conn: sqlite3.Connection, schema: Schema, where: str) -> int:
    """Apply ``schema``'s missing migrations in one transaction; how many."""
    return migrate_sqlite(conn, schema, where=where)
