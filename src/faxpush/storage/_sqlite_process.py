"""A SQLite connection in a process of its own: the SQLite store's one writing connection.

Why: on the store's thread every ``sqlite3`` call hands the interpreter lock back and must
take it again from the event loop, which holds it for long stretches under load. A claim or
finish transaction with 0.6 ms of CPU then took 2.2 ms, and the dispatcher's send slots (each
freed only once its result is committed) spent most of their time waiting for it. In a
process of its own the transaction waits for nobody: paired runs of ``bench/dispatch.py``
went from 0.50 to 0.66 of bare aiohttp (``docs/benchmarks.md``, Dispatch).

The store starts the process on its first write (commands that only read never start one).
From then on every write of the store, and of the job store that shares its database, runs
here, and the store's thread connection only reads (``PRAGMA query_only``): one writer, so
no write ever waits in SQLite's lock for another connection of the same program (whose busy
handler sleeps up to 100 ms a time). The two talk over a socket pair: every message is a
4-byte length and a pickle. A request ``(id, name, args)`` names a ``@sqlite_work`` function
(:mod:`._sqlite_hot`); the child runs it inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (a
``@sqlite_work_committing_itself`` one, a migrator, in the transaction it opens itself) and
answers ``(id, ok, value)``. Each transaction first takes the machine-wide write turn
(:mod:`faxpush._db.write_turn`), so that store processes of several programs on one file
take turns without sleeping in SQLite's busy handler. Only plain data crosses: secrets
come sealed and go back sealed, so the cipher's keys never reach the child.

* The child exits when the socket closes, so it never outlives its worker, not even one
  killed with SIGKILL (a transaction under way finishes or rolls back first). It ignores
  SIGINT and SIGTERM sent to the whole process group: its worker still needs it to record
  the results of a graceful shutdown.
* A child that dies fails the calls waiting for it with :class:`StorageError`; the next call
  starts a new one. What it committed stays; a transaction it had not committed is rolled
  back by SQLite, whole.
* A cancelled call is not undone: its transaction still commits (the store's thread does the
  same, see :mod:`faxpush._db.sqlite`). For a claim that means leases that expire unused;
  for results, attempts recorded although the caller gave up; for an enqueue, a stored push.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import pickle
import signal
import socket
import sqlite3
import struct
import sys
from collections.abc import Callable
from typing import Any

from faxpush._db.sqlite import connect, translated
from faxpush._db.write_turn import WriteTurn
from faxpush.core.errors import ConfigurationError, StorageError
from faxpush.storage._sqlite_hot import commits_itself, find_work
from faxpush.storage._sqlite_sql import connection_setup

_HEADER = struct.Struct("!I")
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


class SqliteProcess:
    """The parent's side; see the module docstring."""

    def __init__(self, location: str, busy_s: float) -> None:
        self.location = location
        self.busy_s = busy_s
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[tuple[bool, Any]]] = {}
        self._ids = itertools.count(1)
        self._starting = asyncio.Lock()
        self._closed = False

    @property
    def running(self) -> bool:
        """Whether a call is sent at once: the child is up, and nobody is starting one."""
        listening = self._listener is not None and not self._listener.done()
        return self._writer is not None and listening and not self._starting.locked()

    async def run(self, action: str, name: str, *args: Any) -> Any:
        """The ``@sqlite_work`` function ``name`` (``module:function``) in one write
        transaction in the child."""
        if self._closed:
            raise StorageError(f"cannot {action}: the store for {self.location} is closed")
        writer = await self._started(action)
        request_id = next(self._ids)
        answer: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        try:
            _send(writer, (request_id, name, args))
            ok, value = await answer
        finally:
            self._waiting.pop(request_id, None)
        if ok:
            return value
        if isinstance(value, StorageError):
            raise value
        with translated(action, self.location, self.busy_s):
            if isinstance(value, sqlite3.Error):
                raise value
        raise StorageError(f"cannot {action} in {self.location}: {type(value).__name__}: {value}")

    async def close(self) -> None:
        """Stop the child once its work is done. Safe to call twice."""
        self._closed = True
        await self._stop()

    # --- the child's lifetime ---------------------------------------------------------
    async def _started(self, action: str) -> asyncio.StreamWriter:
        async with self._starting:
            if self._closed:  # closed while this call waited for the lock
                raise StorageError(f"cannot {action}: the store for {self.location} is closed")
            if self._writer is not None and self._listener and not self._listener.done():
                return self._writer
            await self._stop()
            try:
                return await asyncio.wait_for(self._start(), _START_TIMEOUT_S)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                await self._stop()
                raise StorageError(
                    f"cannot {action}: the SQLite store process for {self.location} did not "
                    f"start ({type(exc).__name__}: {exc})"
                ) from exc
            except BaseException:
                await self._stop()
                raise

    async def _start(self) -> asyncio.StreamWriter:
        ours, theirs = socket.socketpair()
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                __name__,
                str(theirs.fileno()),
                self.location,
                str(self.busy_s),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        self._writer = writer
        ok, value = _decode(await _read(reader))[1:]  # the child's first message: connected
        if not ok:
            raise (
                value
                if isinstance(value, ConfigurationError)
                else StorageError(f"cannot open {self.location} in the store process: {value}")
            )
        self._listener = asyncio.create_task(self._listen(reader), name="faxpush-sqlite-process")
        return writer

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                request_id, ok, value = _decode(await _read(reader))
                answer = self._waiting.get(request_id)
                if answer is not None and not answer.done():
                    answer.set_result((ok, value))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        lost = StorageError(
            f"the SQLite store process for {self.location} exited; the next call starts a "
            "new one (look for a crash or a killed process)"
        )
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(lost)

    async def _stop(self) -> None:
        writer, process, listener = self._writer, self._process, self._listener
        self._writer = self._process = self._listener = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), _STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
        if listener is not None:
            await listener


async def _read(reader: asyncio.StreamReader) -> bytes:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return await reader.readexactly(size)


def _send(writer: asyncio.StreamWriter, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_HEADER.pack(len(payload)) + payload)


def _decode(payload: bytes) -> tuple[int, bool, Any]:
    message: tuple[int, bool, Any] = pickle.loads(payload)  # noqa: S301 - our own child
    return message


# --- the child ---------------------------------------------------------------------------
def _serve(fd: int, location: str, busy_s: float) -> None:
    # Ctrl-C, or a service manager stopping the whole process group, signals us along with
    # the worker, which then still records its last results through us: the worker decides
    # when we stop, by closing the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A worker killed mid-conversation closes the socket under us: a request still queued
    # is answered into a broken pipe, or the next read finds the connection reset. Either
    # way the worker is gone and so is our job; exit without a traceback.
    with socket.socket(fileno=fd) as channel, contextlib.suppress(ConnectionError):
        _converse(channel, location, busy_s)


def _converse(channel: socket.socket, location: str, busy_s: float) -> None:
    try:
        connection = connect(location, busy_s, setup=connection_setup())
    except (ConfigurationError, sqlite3.Error, OSError) as exc:  # the parent reports it
        _answer(channel, 0, False, exc)
        return
    with contextlib.closing(connection):
        try:
            turn = WriteTurn(location, busy_s)
        except OSError as exc:
            _answer(channel, 0, False, exc)
            return
        connection.row_factory = None
        _answer(channel, 0, True, None)
        with contextlib.closing(turn):
            _work_on(channel, connection, turn)


def _work_on(channel: socket.socket, connection: sqlite3.Connection, turn: WriteTurn) -> None:
    while (request := _receive(channel)) is not None:
        request_id, name, args = request
        try:
            with turn.held():
                value = _transact(connection, find_work(name), args)
        except (sqlite3.Error, StorageError, LookupError, ValueError) as exc:
            _answer(channel, request_id, False, exc)
        else:
            _answer(channel, request_id, True, value)


def _transact(connection: sqlite3.Connection, work: Callable[..., Any], args: Any) -> Any:
    if commits_itself(work):
        return work(connection, *args)
    connection.execute("BEGIN IMMEDIATE")
    try:
        value = work(connection, *args)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return value


def _receive(channel: socket.socket) -> tuple[int, str, tuple[Any, ...]] | None:
    header = _receive_exactly(channel, _HEADER.size)
    if header is None:
        return None
    payload = _receive_exactly(channel, _HEADER.unpack(header)[0])
    if payload is None:
        return None
    request: tuple[int, str, tuple[Any, ...]] = pickle.loads(payload)  # noqa: S301 - our parent
    return request


def _receive_exactly(channel: socket.socket, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = channel.recv(min(missing, 1 << 20))
        if not chunk:
            return None  # the parent closed the socket (or died): stop
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _answer(channel: socket.socket, request_id: int, ok: bool, value: object) -> None:
    try:
        payload = pickle.dumps((request_id, ok, value), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        payload = pickle.dumps((request_id, False, StorageError(f"unsendable answer: {exc}")))
    channel.sendall(_HEADER.pack(len(payload)) + payload)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
