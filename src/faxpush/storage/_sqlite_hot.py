"""The dispatcher's two hot transactions, as plain functions of a ``sqlite3`` connection and
plain arguments that return plain data, so that the SQLite store runs them on its thread or
in its store process (:mod:`faxpush.storage._sqlite_process`) alike.

Each runs inside a write transaction its caller opens and commits.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__faxpush_sqlite_work__"


def sqlite_work(function: F) -> F:
    """Mark a module-level function ``(connection, *plain args) -> plain data`` as work the
    store may run in one write transaction, on its thread or in its store process."""
    setattr(function, _MARK, True)
    return function


def work_name(function: Callable[..., Any]) -> str:
    """How a store process is told which work to run: ``module:function``."""
    if not getattr(function, _MARK, False):
        raise TypeError(f"{function!r} is not marked with @sqlite_work")
    return f"{function.__module__}:{function.__qualname__}"


@lru_cache(maxsize=256)
def find_work(name: str) -> Callable[..., Any]:
    """The function :func:`work_name` named; only marked functions of faxpush's storage."""
    module, _, qualname = name.partition(":")
    if not module.startswith("faxpush.storage."):
        raise LookupError(f"no SQLite work named {name!r}")
    function = getattr(importlib.import_module(module), qualname, None)
    if function is None or not getattr(function, _MARK, False):
        raise LookupError(f"no SQLite work named {name!r}")
    return function  # type: ignore[no-any-return]

ClaimedRows = tuple[list[str], list[tuple[Any, ...]], dict[int, bytes]]


@sqlite_work
def claim_due(
    conn: sqlite3.Connection, claim_sql: str, bodies_sql: str, params: dict[str, Any]
) -> ClaimedRows:
    """Lease due pushes: their column names, their rows and their bodies by seq."""
    cursor = conn.execute(claim_sql, params)
    names = [column[0] for column in cursor.description]
    found = [tuple(row) for row in cursor.fetchall()]
    seq = names.index("seq")
    bodies = conn.execute(bodies_sql, {"seqs": json.dumps([row[seq] for row in found])})
    return names, found, {row[0]: row[1] for row in bodies.fetchall()}


@sqlite_work
def record_results(
    conn: sqlite3.Connection,
    batches: Sequence[tuple[str, list[Any]]],
    verdicts_sql: str,
    params: dict[str, Any],
) -> list[str]:
    """Insert the attempt rows, apply the verdicts; the delivery ids whose verdict applied."""
    for statement, values in batches:
        conn.execute(statement, values)
    return [row[0] for row in conn.execute(verdicts_sql, params).fetchall()]

