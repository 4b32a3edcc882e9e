"""The SQLite operator part's named queries (``sql/sqlite/operator_queries.sql``) and the
per-receiver counters that ``finish`` adds in the transaction recording the attempts (run by
``_sqlite_hot.record_results``, on the store's thread or in its store process)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from functools import cache
from typing import Any, LiteralString

from faxpush._db.queries import load_queries
from faxpush.core.receiver_stats import HISTOGRAM_COLUMNS, AttemptSample, ReceiverDelta
from faxpush.storage._common import from_micros, to_micros
from faxpush.storage._operator_common import COUNTER_SWEEP_LIMIT, per_receiver
from faxpush.storage._sqlite_sql import SCHEMA

_QUERIES = "sql/sqlite/operator_queries.sql"

# What finish hands to the counters for each result: (receiver or None to look it up,
# delivery id, started at in microseconds, duration in ms, success, error).
Sample = tuple[str | None, str, int, float, bool, str | None]


# The find_pushes_* queries: the find_pushes template on an index, with the equalities of
# the filter that the index leads with.
_PAGE_INDEXES: dict[str, tuple[LiteralString, LiteralString]] = {
    "find_pushes_newest": ("pushes_newest", ""),
    "find_pushes_by_state": ("pushes_by_state_newest", "AND state = :state"),
    "find_pushes_by_job": ("pushes_by_job_newest", "AND job_id = :job_id"),
    "find_pushes_by_receiver": ("pushes_by_receiver_newest", "AND receiver = :receiver"),
    "find_pushes_unfinished_of_receiver": (
        "pushes_unfinished_by_receiver",
        "AND receiver = :receiver AND state IN ('pending', 'in_flight') AND state = :state",
    ),
}


@cache
def operator_sql(name: str) -> LiteralString:
    """The text of the operator part's named query ``name``."""
    queries = load_queries(SCHEMA.package, _QUERIES)
    if name not in _PAGE_INDEXES:
        return queries[name].sql
    index, lead = _PAGE_INDEXES[name]
    return queries["find_pushes"].sql.replace("{index}", index).replace("{lead}", lead)


def count_attempts(
    conn: sqlite3.Connection, samples: Sequence[Sample], drop_before: int | None
) -> None:
    """Add ``samples`` to the receiver counters and health rows inside the caller's
    transaction; with ``drop_before`` (microseconds), also drop a bounded number of buckets
    that started before it. Results whose push is unknown are not counted."""
    unknown = [delivery_id for receiver, delivery_id, *_ in samples if receiver is None]
    found: dict[str, str] = {}
    if unknown:
        rows = conn.execute(operator_sql("receivers_of"), {"delivery_ids": json.dumps(unknown)})
        found = {row[0]: row[1] for row in rows.fetchall()}
    attempts = [
        AttemptSample(receiver, from_micros(started_us), duration_ms, success, error)
        for given, delivery_id, started_us, duration_ms, success, error in samples
        if (receiver := given or found.get(delivery_id)) is not None
    ]
    deltas, firsts = per_receiver(attempts)
    conn.executemany(operator_sql("count_attempts"), [_count_params(delta) for delta in deltas])
    conn.executemany(operator_sql("apply_health"), [_health_params(delta) for delta in firsts])
    if drop_before is not None:
        conn.execute(
            operator_sql("drop_old_counts"), {"oldest": drop_before, "limit": COUNTER_SWEEP_LIMIT}
        )


def _count_params(delta: ReceiverDelta) -> dict[str, Any]:
    params = {
        "receiver": delta.receiver,
        "bucket_start": to_micros(delta.bucket_start),
        "attempts": delta.attempts,
        "successes": delta.successes,
    }
    params.update(zip(HISTOGRAM_COLUMNS, delta.histogram, strict=True))
    return params


def _health_params(delta: ReceiverDelta) -> dict[str, Any]:
    error_at = delta.last_error_at
    return {
        "receiver": delta.receiver,
        "reset": int(delta.reset),
        "trailing": delta.trailing_failures,
        "last_error": delta.last_error,
        "last_error_at": None if error_at is None else to_micros(error_at),
        "last_attempt_at": to_micros(delta.last_attempt_at),
    }
