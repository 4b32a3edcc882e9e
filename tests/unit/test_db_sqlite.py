"""The one SQLite connection owner (faxpush._db.sqlite), apart from any store."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from faxpush._db.sqlite import SqliteThread
from faxpush.core.errors import ConfigurationError, StorageError

BUSY = timedelta(seconds=1)
WAL = ["PRAGMA journal_mode = WAL"]


def _count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM notes").fetchone()[0])


async def test_a_store_s_setup_runs_on_the_connection(tmp_path: Path) -> None:
    setup = ["PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON"]
    thread = await SqliteThread.open(str(tmp_path / "a.db"), BUSY, setup=setup)
    try:
        found = await thread.run(
            "read pragmas",
            lambda conn: conn.execute("SELECT * FROM pragma_foreign_keys").fetchone()[0],
            write=False,
        )
    finally:
        await thread.close()
    assert found == 1


async def test_a_write_is_one_transaction_rolled_back_on_error(tmp_path: Path) -> None:
    thread = await SqliteThread.open(str(tmp_path / "a.db"), BUSY, setup=WAL, name="the notes")

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO notes VALUES ('kept?')")
        conn.execute("INSERT INTO nowhere VALUES (1)")

    try:
        await thread.run("create", lambda c: c.execute("CREATE TABLE notes (t)"), write=True)
        with pytest.raises(StorageError, match=r"cannot add notes in the notes: .*nowhere"):
            await thread.run("add notes", half_done, write=True)
        assert await thread.run("count", _count, write=False) == 0
    finally:
        await thread.close()
    with pytest.raises(StorageError, match="the connection to the notes is closed"):
        await thread.run("count", _count, write=False)


async def test_a_connection_that_cannot_use_wal_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="WAL mode"):
        await SqliteThread.open(str(tmp_path / "a.db"), BUSY)  # no setup: it stays "delete"


async def test_a_read_only_thread_reads_one_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE notes (t)")
        conn.execute("INSERT INTO notes VALUES ('one')")
    reader = await SqliteThread.open(str(path), BUSY, read_only=True)
    try:
        assert await reader.run("count", _count, write=False) == 1
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO notes VALUES ('two')")
        assert await reader.run("count", _count, write=False) == 1  # still the snapshot
        with pytest.raises(StorageError, match="read-only"):
            await reader.run("add", lambda c: c.execute("DELETE FROM notes"), write=True)
    finally:
        await reader.close()
