"""The SQLite operator part's writes: each a ``@sqlite_work`` function of a connection and
plain data, run in one write transaction on the store's thread or in its store process
(:meth:`SqliteStore.write <faxpush.storage.sqlite.SqliteStore.write>`). Secrets arrive
sealed; rows come back as plain dicts. A refusal is returned, not raised, so that it reads
the same from the store process."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from faxpush.storage._sqlite_hot import sqlite_work
from faxpush.storage._sqlite_operator_sql import operator_sql
from faxpush.storage._sqlite_sql import sql

Params = dict[str, Any]
Row = dict[str, Any]


def _dict_rows(cursor: sqlite3.Cursor) -> list[Row]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


@sqlite_work
def enqueue_pushes(
    conn: sqlite3.Connection, pushes: Sequence[tuple[Params, bytes]]
) -> list[tuple[Row, bool]]:
    """Insert pushes in order (the ones whose delivery id exists are found instead): each
    one's row and whether it was inserted. The caller's transaction makes it all or none."""
    stored: list[tuple[Row, bool]] = []
    for params, body in pushes:
        inserted = _dict_rows(conn.execute(sql("insert_push"), params))
        if inserted:
            conn.execute(sql("insert_body"), {"seq": inserted[0]["seq"], "body": body})
            stored.append((inserted[0], True))
        else:
            found = conn.execute(sql("get_push"), {"delivery_id": params["delivery_id"]})
            stored.append((_dict_rows(found)[0], False))
    return stored


@sqlite_work
def cancel_pending(conn: sqlite3.Connection, params: Params) -> list[str]:
    """Cancel the pending pushes among ``params["delivery_ids"]``; their ids."""
    return [row[0] for row in conn.execute(operator_sql("cancel_pending"), params).fetchall()]


@sqlite_work
def redeliver_matching(conn: sqlite3.Connection, params: Params) -> int:
    """Put the finished pushes matching a filter back to pending; how many."""
    return conn.execute(operator_sql("redeliver_matching"), params).rowcount


@sqlite_work
def create_api_token(conn: sqlite3.Connection, params: Params) -> str | None:
    """Store a new API token; or what it clashes with ('name', 'hash') and store nothing."""
    clash = conn.execute(operator_sql("api_token_clash"), params).fetchone()
    if clash is not None:
        return str(clash[0])
    conn.execute(operator_sql("create_api_token"), params)
    return None


@sqlite_work
def touch_api_token(conn: sqlite3.Connection, params: Params) -> None:
    """Record a use of an API token unless a recent one is recorded."""
    conn.execute(operator_sql("touch_api_token"), params)


@sqlite_work
def revoke_api_token(conn: sqlite3.Connection, params: Params) -> bool:
    """Revoke an unrevoked API token; whether there was one."""
    return conn.execute(operator_sql("revoke_api_token"), params).fetchone() is not None


@sqlite_work
def remember_idempotent(conn: sqlite3.Connection, sweep: Params, params: Params) -> Row:
    """Drop some expired answers, remember this one unless its key has an unexpired answer;
    the answer remembered for the key."""
    conn.execute(operator_sql("drop_expired_answers"), sweep)
    conn.execute(operator_sql("remember_idempotent"), params)
    found = conn.execute(
        operator_sql("get_idempotent"), {"key": params["key"], "now": params["now"]}
    )
    return _dict_rows(found)[0]


@sqlite_work
def create_console_user(conn: sqlite3.Connection, params: Params) -> bool:
    """Store a new console user; False (and nothing stored) when the name is taken."""
    return conn.execute(operator_sql("create_console_user"), params).rowcount == 1


@sqlite_work
def delete_console_user(conn: sqlite3.Connection, params: Params) -> bool:
    """Delete a console user; whether there was one."""
    return conn.execute(operator_sql("delete_console_user"), params).fetchone() is not None
