"""Whose turn it is to write a SQLite database, among the processes of one machine.

Two faxpush processes that write one SQLite file (``faxpush admin serve`` queueing pushes
beside a ``faxpush worker`` claiming and finishing them) meet in SQLite's write lock. The
loser of ``BEGIN IMMEDIATE`` waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15,
20, 25 … ms between tries and so often misses the short gaps between the winner's
transactions: at 1,000 pushes/s such waits of 18, 33, 53 and 78 ms (the handler's sums)
were most of the end-to-end p99 (``bench/ingest.py``). A process that blocks on an
exclusive ``flock`` of a file beside the database is woken by the kernel the moment the
holder lets go, so the two take turns with no sleep in between.

The turn is taken before ``BEGIN IMMEDIATE`` and given back after ``COMMIT`` (or
``ROLLBACK``). Writers that do not take it (another program, a one-off ``faxpush`` command
writing on its own connection) are still kept apart by SQLite's lock and its busy handler,
as before. The file holds nothing; it is ``<database>-turn``, next to SQLite's own ``-wal``
and ``-shm`` files. Only the store process (:mod:`faxpush.storage._sqlite_process`) uses
this: it is single-threaded, so the wait's deadline can be a timer signal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import FrameType


class _TimeUpError(Exception):
    pass


class WriteTurn:
    """An exclusive ``flock`` on ``<database>-turn``, waited for at most ``busy_s``."""

    def __init__(self, database: str, busy_s: float) -> None:
        self.path = database + "-turn"
        self.busy_s = busy_s
        self._fd = _open_like(self.path, database)
        self._waiting = False

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the turn for the block. Waiting longer than ``busy_s`` raises the error
        SQLite raises when its own wait ends: ``database is locked``."""
        self._take()
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)

    def _take(self) -> None:
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        self._waiting = True
        previous = signal.signal(signal.SIGALRM, self._time_up)
        signal.setitimer(signal.ITIMER_REAL, max(self.busy_s, 0.001))
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._waiting = False
        except _TimeUpError:
            # The timer may fire just after the lock was granted: give it back either way.
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            raise sqlite3.OperationalError("database is locked") from None
        finally:
            self._waiting = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def _time_up(self, signum: int, frame: FrameType | None) -> None:
        if self._waiting:  # once the lock is granted, a late timer changes nothing
            raise _TimeUpError


def _open_like(path: str, database: str) -> int:
    """Open (creating it if need be) the turn file for reading, which is all ``flock``
    needs. A new one gets the database's permission bits, as SQLite gives its ``-wal`` and
    ``-shm`` files, so that every user who may write the database may take the turn."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        mode = Path(database).stat().st_mode & 0o666
    except FileNotFoundError:
        mode = 0o644
    try:
        os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        raise
    return fd


__all__ = ["WriteTurn"]
