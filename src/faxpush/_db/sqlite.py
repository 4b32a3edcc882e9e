"""The one owner of faxpush's SQLite connections: a connection on a thread of its own, how
every connection is set up, and the translation of driver errors.

How a store uses it::

    thread = await SqliteThread.open(path, busy_timeout, setup=statements, name=path)
    rows = await thread.run("list accounts", lambda conn: conn.execute(sql).fetchall(),
                            write=False)
    await thread.run("save account 4711", save, write=True)  # BEGIN IMMEDIATE … COMMIT
    await thread.close()

``setup`` holds the store's own statements run on every new connection (its pragmas, from
its query file); ``name`` is how messages call the database. A store that runs SQLite
elsewhere (a process of its own) opens its connection with :func:`connect` and wraps its
driver calls in :func:`translated`, so that its errors read the same.

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

Cancelling the awaiting task never leaves a transaction open, and never undoes a write: a
write, once called, runs to its end and commits (as a write sent to a store process does:
it cannot be called back, so the thread behaves the same and a store means one thing by a
cancelled write, whichever connection runs it). A read not started yet is dropped.

:meth:`SqliteThread.refuse_writes` turns a connection into a reader for good (``PRAGMA
query_only``): a store whose writes move to a process of their own keeps its thread for reads.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from faxpush.core.errors import ConfigurationError, StorageError

__all__ = [
    "MIN_SQLITE_VERSION",
    "SqliteThread",
    "Work",
    "check_sqlite_version",
    "connect",
    "translated",
]

MIN_SQLITE_VERSION = (3, 35, 0)  # UPDATE ... RETURNING
T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


class SqliteThread:
    """A ``sqlite3`` connection that only its own thread touches. Open with :meth:`open`."""

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        location: str,
        busy_s: float,
        *,
        setup: Sequence[str],
        name: str,
        read_only: bool,
    ) -> None:
        self._executor = executor
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self._setup = tuple(setup)
        self._read_only = read_only
        self._refusing: str | None = None  # why writes are refused (refuse_writes)
        self.location = location
        self.busy_s = busy_s
        self.name = name

    @classmethod
    async def open(
        cls,
        location: str,
        busy_timeout: timedelta,
        *,
        setup: Sequence[str] = (),
        name: str | None = None,
        read_only: bool = False,
        thread_name: str = "faxpush-sqlite",
    ) -> SqliteThread:
        """Connect as :func:`connect` does, waiting up to ``busy_timeout`` for another writer.

        ``read_only``: open an existing file read-only and hold one read transaction from
        here to :meth:`close`, so that every call reads the same snapshot (``write`` calls
        are refused)."""
        check_sqlite_version()
        if location != ":memory:" and not Path(location).parent.is_dir():
            raise ConfigurationError(
                f"the directory of the database {location} does not exist; create it or fix "
                "the database URL"
            )
        bridge = cls(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name),
            location,
            busy_timeout.total_seconds(),
            setup=setup,
            name=location if name is None else name,
            read_only=read_only,
        )
        connecting = bridge._executor.submit(bridge._connect)
        try:
            with translated("set up the connection", bridge.name, bridge.busy_s):
                await asyncio.wrap_future(connecting)
        except BaseException:
            bridge._closed = True
            bridge._executor.submit(bridge._disconnect)  # should the connect still succeed
            bridge._executor.shutdown(wait=False)
            raise
        return bridge

    async def run(self, action: str, work: Work[T], *, write: bool) -> T:
        """``work(connection)`` on the thread; inside one write transaction if ``write``,
        else each statement its own transaction (a transaction ``work`` leaves open is
        rolled back)."""
        if self._closed:
            raise StorageError(f"cannot {action}: the connection to {self.name} is closed")
        if write and self._read_only:
            raise StorageError(f"cannot {action}: {self.name} is opened read-only")
        if write and self._refusing is not None:
            raise StorageError(f"cannot {action} on this connection: {self._refusing}")
        job = self._executor.submit(self._transact if write else self._plain, work)
        with translated(action, self.name, self.busy_s):
            if write:  # see the module docstring: a cancelled write still commits
                return await asyncio.shield(asyncio.wrap_future(job))
            return await asyncio.wrap_future(job)

    async def refuse_writes(self, why: str) -> None:
        """From now on, refuse ``write`` calls (saying ``why``) and let the connection only
        read (``PRAGMA query_only``), once the work queued before has run."""
        self._refusing = why
        await self.run("stop writing", lambda c: c.execute("PRAGMA query_only = ON"), write=False)

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
        self._connection = connect(
            self.location, self.busy_s, setup=self._setup, read_only=self._read_only
        )
        if self._read_only:
            self._connection.execute("BEGIN")

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # rolls back any open transaction

    def _plain(self, work: Work[T]) -> T:
        connection = self._connected()
        try:
            return work(connection)
        finally:
            # An unfinished SELECT: never keep it open (a read-only snapshot is meant to be).
            if connection.in_transaction and not self._read_only:
                connection.execute("ROLLBACK")

    def _transact(self, work: Work[T]) -> T:
        connection = self._connected()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return result

    def _connected(self) -> sqlite3.Connection:
        if self._connection is None:  # closed while this job was queued
            raise StorageError(f"the connection to {self.name} is closed")
        return self._connection


def connect(
    location: str, busy_s: float, *, setup: Sequence[str] = (), read_only: bool = False
) -> sqlite3.Connection:
    """A connection set up as every faxpush connection is: autocommit (transactions are
    explicit), ``sqlite3.Row`` rows, waiting up to ``busy_s`` for another writer, then the
    store's ``setup`` statements; it must end in WAL mode (unless ``read_only``, which opens
    an existing file without writing to it)."""
    target = Path(location).resolve().as_uri() + "?mode=ro" if read_only else location
    try:
        # A larger statement cache: record_attempts has one statement per batch size.
        connection = sqlite3.connect(
            target, isolation_level=None, timeout=busy_s, cached_statements=256, uri=read_only
        )
    except sqlite3.Error as exc:
        raise ConfigurationError(
            f"cannot open the SQLite database {location}: {exc}; check the path and its permissions"
        ) from exc
    try:
        connection.row_factory = sqlite3.Row
        for statement in setup:
            connection.execute(statement)
        journal_mode = None
        if not read_only:
            journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    except BaseException:
        connection.close()
        raise
    if journal_mode not in (None, "wal", "memory"):
        connection.close()
        raise ConfigurationError(
            f"cannot switch {location} to WAL mode (it stays in {journal_mode!r} "
            "mode); put the database on a local file system"
        )
    return connection


def check_sqlite_version() -> None:
    """Refuse a Python linked against an SQLite too old for faxpush's SQL."""
    if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
        raise ConfigurationError(
            f"faxpush needs SQLite {'.'.join(map(str, MIN_SQLITE_VERSION))} or newer, but "
            f"Python is linked against SQLite {sqlite3.sqlite_version}; use a newer "
            "Python build, or PostgreSQL"
        )


@contextmanager
def translated(action: str, name: str, busy_s: float) -> Iterator[None]:
    """Turn driver exceptions into StorageError naming the action and the database."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(_explain(f"cannot {action} in {name}", exc, busy_s)) from exc


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
