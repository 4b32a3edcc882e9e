"""The dispatcher's two hot transactions, as plain functions of a ``sqlite3`` connection and
plain arguments that return plain data, so that the SQLite store runs them on its thread or
in its store process (:mod:`faxpush.storage._sqlite_process`) alike.

Each runs inside a write transaction its caller opens and commits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

ClaimedRows = tuple[list[str], list[tuple[Any, ...]], dict[int, bytes]]


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


# What a store process may be asked to run, by name.
HOT_WORK: dict[str, Callable[..., Any]] = {
    function.__name__: function for function in (claim_due, record_results)
}
