"""The store's SQLite connection, owned by one thread, and the translation of driver errors.

Each call hands the thread a whole unit of work, a plain function of the ``sqlite3``
connection: a write runs as ``BEGIN IMMEDIATE`` … work … ``COMMIT`` (rolled back on any
error), so a transaction costs one hop to the thread and one back, whatever its size.

Why not aiosqlite: it hops to its thread and back once per statement, ``BEGIN`` and
``COMMIT`` included (4-6 round trips per transaction), and while the event loop is busy every
return hop waits its turn there (and the database thread waits for the GIL). Measured with
``bench/store.py`` (claim 64 pushes, then finish them; medians of 3, two sessions each):

* loop saturated by other tasks: claim 59-200 ms -> 20-29 ms, finish 39-52 ms -> 15-21 ms;
* loop about half busy: claim 3.8-5.8 ms -> 3.9-4.7 ms, finish 4.2-5.2 ms -> 3.9-4.3 ms;
* idle loop: unchanged, claim ~2.9 ms, finish ~2.6 ms (SQL, fsync and row conversion).

``bench/dispatch.py --repeat 3`` delivered 3,116-3,150 pushes/s before and 3,032-3,042/s
after: the dispatcher's throughput is bounded elsewhere, not by these hops.

Cancelling the awaiting task never leaves a transaction open: work not started yet is
dropped; work under way runs to its end on the thread and, unless it has committed
already, is rolled back instead of committed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from faxpush.core.errors import ConfigurationError, StorageError
from faxpush.storage._sqlite_sql import connection_setup

MIN_SQLITE_VERSION = (3, 35, 0)  # UPDATE ... RETURNING
T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


class SqliteThread:
    """A ``sqlite3`` connection that only its own thread touches. Open with :meth:`open`."""

    def __init__(self, executor: ThreadPoolExecutor, location: str, busy_s: float) -> None:
        self._executor = executor
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self.location = location
        self.busy_s = busy_s

    @classmethod
    async def open(cls, location: str, busy_timeout: timedelta) -> SqliteThread:
        """Connect in autocommit mode (transactions are explicit), WAL, synchronous=FULL,
        foreign keys on, waiting up to ``busy_timeout`` for another writer."""
        _check_location(location)
        bridge = cls(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="faxpush-sqlite"),
            location,
            busy_timeout.total_seconds(),
        )
        connecting = bridge._executor.submit(bridge._connect)
        try:
            with translated("set up the connection", location, bridge.busy_s):
                await asyncio.wrap_future(connecting)
        except BaseException:
            bridge._closed = True
            bridge._executor.submit(bridge._disconnect)  # should the connect still succeed
            bridge._executor.shutdown(wait=False)
            raise
        return bridge

    async def run(self, action: str, work: Work[T], *, write: bool) -> T:
        """``work(connection)`` on the thread; inside one write transaction if ``write``."""
        if self._closed:
            raise StorageError(f"cannot {action}: the store for {self.location} is closed")
        abandoned = threading.Event()
        job = self._executor.submit(self._transact if write else self._plain, work, abandoned)
        with translated(action, self.location, self.busy_s):
            try:
                return await asyncio.wrap_future(job)
            except asyncio.CancelledError:
                abandoned.set()
                raise

    async def close(self) -> None:
        """Close the connection once the work queued before has run. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        closing: Future[None] = self._executor.submit(self._disconnect)
        try:
            await asyncio.shield(asyncio.wrap_future(closing))
        finally:
            self._executor.shutdown(wait=True)

    # --- on the thread ----------------------------------------------------------------
    def _connect(self) -> None:
        self._connection = connect(self.location, self.busy_s)

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # rolls back any open transaction

    def _plain(self, work: Work[T], abandoned: threading.Event) -> T:
        connection = self._connected()
        try:
            return work(connection)
        finally:
            if connection.in_transaction:  # an unfinished SELECT; never keep it open
                connection.execute("ROLLBACK")

    def _transact(self, work: Work[T], abandoned: threading.Event) -> T:
        connection = self._connected()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
            # Nobody awaits the result of a cancelled call: undo it rather than commit.
            connection.execute("ROLLBACK" if abandoned.is_set() else "COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return result

    def _connected(self) -> sqlite3.Connection:
        if self._connection is None:  # closed while this job was queued
            raise StorageError(f"the store for {self.location} is closed")
        return self._connection


def connect(location: str, busy_s: float) -> sqlite3.Connection:
    """A connection set up as every faxpush connection is (autocommit, WAL, synchronous=FULL,
    foreign keys, ``sqlite3.Row`` rows), waiting up to ``busy_s`` for another writer."""
    try:
        # A larger statement cache: record_attempts has one statement per batch size.
        connection = sqlite3.connect(
            location, isolation_level=None, timeout=busy_s, cached_statements=256
        )
    except sqlite3.Error as exc:
        raise ConfigurationError(
            f"cannot open the SQLite database {location}: {exc}; check the path and its permissions"
        ) from exc
    try:
        connection.row_factory = sqlite3.Row
        for statement in connection_setup():
            connection.execute(statement)
        journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    except BaseException:
        connection.close()
        raise
    if journal_mode not in ("wal", "memory"):
        connection.close()
        raise ConfigurationError(
            f"cannot switch {location} to WAL mode (it stays in {journal_mode!r} "
            "mode); put the database on a local file system"
        )
    return connection


def _check_location(location: str) -> None:
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


@contextmanager
def translated(action: str, location: str, busy_s: float) -> Iterator[None]:
    """Turn driver exceptions into StorageError naming the action and the database."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(_explain(f"cannot {action} in {location}", exc, busy_s)) from exc


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
