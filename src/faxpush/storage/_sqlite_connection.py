"""Opening a SQLite connection the way the store needs it, and translating driver errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path

import aiosqlite

from faxpush.core.errors import ConfigurationError, StorageError
from faxpush.storage._sqlfiles import queries

MIN_SQLITE_VERSION = (3, 35, 0)  # UPDATE ... RETURNING


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (semicolons in literals are kept)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements


async def connect(location: str, busy_timeout: timedelta) -> aiosqlite.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=FULL,
    foreign keys on, waiting up to ``busy_timeout`` for another writer."""
    if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
        raise ConfigurationError(
            f"faxpush needs SQLite {'.'.join(map(str, MIN_SQLITE_VERSION))} or newer, but "
            f"Python is linked against SQLite {sqlite3.sqlite_version}; use a newer "
            "Python build, or PostgreSQL"
        )
    if location != ":memory:" and not Path(location).parent.is_dir():
        raise ConfigurationError(
            f"the directory of the database {location} does not exist; create it or fix "
            "the database URL"
        )
    busy_s = busy_timeout.total_seconds()
    try:
        connection = await aiosqlite.connect(location, isolation_level=None, timeout=busy_s)
    except sqlite3.Error as exc:
        raise ConfigurationError(
            f"cannot open the SQLite database {location}: {exc}; check the path and its permissions"
        ) from exc
    connection.row_factory = sqlite3.Row
    try:
        with translated("set up the connection", location, busy_s):
            for statement in split_statements(queries("sqlite")["connection_setup"]):
                await connection.execute(statement)
            found = await connection.execute_fetchall(queries("sqlite")["journal_mode"])
    except BaseException:
        await connection.close()
        raise
    journal_mode = next(iter(found))[0]
    if journal_mode not in ("wal", "memory"):
        await connection.close()
        raise ConfigurationError(
            f"cannot switch {location} to WAL mode (it stays in {journal_mode!r} mode); "
            "put the database on a local file system"
        )
    return connection


async def rollback_quietly(connection: aiosqlite.Connection) -> None:
    """Roll back the open transaction, if any."""
    # When the connection is already gone, SQLite has rolled back on its own.
    with suppress(sqlite3.Error, ValueError):
        await connection.rollback()


@contextmanager
def translated(action: str, location: str, busy_s: float) -> Iterator[None]:
    """Turn driver exceptions into StorageError naming the action and the database."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(_explain(f"cannot {action} in {location}", exc, busy_s)) from exc
    except ValueError as exc:  # aiosqlite's way of saying the connection is closed
        text = str(exc).lower()
        if "closed" not in text and "no active" not in text:
            raise
        raise StorageError(f"cannot {action}: the store for {location} is closed") from exc


def _explain(where: str, exc: sqlite3.Error, busy_s: float) -> str:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        if "locked" in text or "busy" in text:
            return (
                f"{where}: the database stayed locked by another connection for {busy_s:g} s; "
                "look for a process holding a long transaction"
            )
        if "no such table" in text:
            return (
                f"{where}: the faxpush schema is missing or out of date ({text}); "
                "run the schema migrations first"
            )
    return f"{where}: {type(exc).__name__}: {text}"
