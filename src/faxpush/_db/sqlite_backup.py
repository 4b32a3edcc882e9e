"""A consistent copy of a SQLite database that is in use: SQLite's online backup.

Copying the file with ``cp`` while a worker runs can catch the database half-way through a
checkpoint, and it misses what is still only in the ``-wal`` file. SQLite's backup API reads
the database as one transaction: it copies one moment's state, including the write-ahead
log, while writers go on (in WAL mode a reader never blocks them). The copy is made in one
step, because a backup made in several steps starts again whenever another connection
writes, and under steady traffic it might never end.

The copy is written to a temporary file beside the destination, checked
(``PRAGMA quick_check``), flushed to disk and then renamed into place, so the destination
is either the complete copy or untouched.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from faxpush._db.sqlite import connect
from faxpush.core.errors import InputError, StorageError


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What :func:`backup` wrote: the file, its size and how long the copy took."""

    path: Path
    bytes: int
    seconds: float


def backup(source: Path, destination: Path, *, busy_s: float, replace: bool) -> BackupReport:
    """Copy the SQLite database ``source`` to ``destination`` as of one moment (see the
    module docstring). ``replace`` allows overwriting an existing destination."""
    if not source.is_file():
        raise InputError(f"there is no SQLite database at {source}; check --database-url")
    if destination.resolve() == source.resolve():
        raise InputError("the backup cannot replace the database itself; choose another file")
    if destination.exists() and not replace:
        raise InputError(f"{destination} exists; remove it first, or pass --force to replace it")
    if not destination.parent.is_dir():
        raise InputError(f"the directory {destination.parent} does not exist; create it first")
    started = time.monotonic()
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.part")
    try:
        _copy(source, temporary, busy_s)
        _flush(temporary)
        temporary.replace(destination)
        _flush(destination.parent)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot back up {source}: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"cannot write the backup {destination}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    return BackupReport(destination, destination.stat().st_size, time.monotonic() - started)


def _copy(source: Path, temporary: Path, busy_s: float) -> None:
    with (
        contextlib.closing(connect(str(source), busy_s, read_only=True)) as reading,
        contextlib.closing(sqlite3.connect(temporary)) as writing,
    ):
        reading.backup(writing)  # all pages in one step: one transaction, one moment
        verdict = writing.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise StorageError(f"the copy of {source} failed its check: {verdict}")


def _flush(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


__all__ = ["BackupReport", "backup"]
