"""How the SQLite store names its writes, and the dispatcher's two hot transactions.

Every write of the SQLite store is a ``@sqlite_work`` function: a module-level function of a
``sqlite3`` connection and plain arguments that returns plain data, so that the store runs it
on its thread or in its store process (:mod:`faxpush.storage._sqlite_process`) alike. Each runs
inside a write transaction its caller opens and commits; a ``@sqlite_work_committing_itself``
function (the migrations) opens and commits its own.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from faxpush.storage._sqlite_operator_sql import Sample, count_attempts

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__faxpush_sqlite_work__"
_IN_TRANSACTION, _OWN_TRANSACTION = "in a transaction", "its own transaction"


def sqlite_work(function: F) -> F:
    """Mark a module-level function ``(connection, *plain args) -> plain data`` as work the
    store may run in one write transaction, on its thread or in its store process."""
    setattr(function, _MARK, _IN_TRANSACTION)
    return function


def sqlite_work_committing_itself(function: F) -> F:
    """As :func:`sqlite_work`, for work that begins and commits its own transaction (a
    migrator: it reads the schema version inside the transaction that upgrades it)."""
    setattr(function, _MARK, _OWN_TRANSACTION)
    return function


def commits_itself(function: Callable[..., Any]) -> bool:
    """Whether ``function`` was marked with :func:`sqlite_work_committing_itself`."""
    return getattr(function, _MARK, None) == _OWN_TRANSACTION


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
CounterArgs = tuple[Sequence[Sample], int | None]


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
    counters: CounterArgs | None = None,
) -> list[str]:
    """Insert the attempt rows, apply the verdicts, add the attempts to the per-receiver
    counters (``counters``: ``SqliteOperator._counter_args``); the delivery ids whose verdict
    applied."""
    for statement, values in batches:
        conn.execute(statement, values)
    applied = [row[0] for row in conn.execute(verdicts_sql, params).fetchall()]
    if counters is not None:
        count_attempts(conn, *counters)
    return applied
