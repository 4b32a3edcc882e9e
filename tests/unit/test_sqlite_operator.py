"""What only the SQLite store's operator part does: readiness against the schema-version
table, the sweep of old counter buckets, and the plans of its list queries."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faxpush._db.migrations import load_migrations
from faxpush.core.targets import PushTarget
from faxpush.storage._sqlite_operator_sql import operator_sql
from faxpush.storage._sqlite_sql import SCHEMA
from faxpush.storage.base import AttemptRecord, AttemptResult, NewPush, Verdict
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
NEWEST = load_migrations(SCHEMA.package, SCHEMA.folder)[-1].version


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "ops.db", SecretCipher([generate_key()]))
    await opened.migrate()
    yield opened
    await opened.close()


def _execute(path: str, statement: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(statement)
    conn.close()


async def test_readiness_names_a_schema_behind_or_ahead(store: SqliteStore) -> None:
    assert await store.readiness() is None
    _execute(store.path, f"DELETE FROM schema_version WHERE version = {NEWEST}")
    behind = await store.readiness()
    assert behind is not None
    assert f"version {NEWEST - 1}" in behind
    assert "faxpush db migrate" in behind
    _execute(store.path, "INSERT INTO schema_version VALUES (999, 'future', 0)")
    ahead = await store.readiness()
    assert ahead is not None
    assert "upgrade faxpush" in ahead


async def test_readiness_says_when_the_database_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    opened = await SqliteStore.open(path, SecretCipher([generate_key()]))
    try:
        reason = await opened.readiness()  # never migrated: no schema-version table
        assert reason is not None
        assert "does not answer" in reason
    finally:
        await opened.close()


async def _finish_one(store: SqliteStore, delivery_id: str, at: datetime) -> None:
    target = PushTarget(url="https://a.example.test/")
    await store.enqueue(NewPush(delivery_id, "job", target, "text/plain", b"x"), now=at)
    (claim,) = await store.claim(worker_id="w", limit=1, lease=LEASE, now=at)
    attempt = AttemptRecord(delivery_id, 1, at, 3.0, 200, None, None)
    await store.finish(
        [AttemptResult(delivery_id, claim.claim_id, attempt, Verdict.DELIVERED)], now=at
    )


async def test_a_new_handle_drops_counter_buckets_older_than_two_days(
    store: SqliteStore, tmp_path: Path
) -> None:
    await _finish_one(store, "old", NOW)
    await _finish_one(store, "recent", NOW + timedelta(days=1))
    later = await SqliteStore.open(store.path, store.cipher)
    try:
        await _finish_one(later, "now", NOW + timedelta(days=2, minutes=10))
    finally:
        await later.close()
    conn = sqlite3.connect(store.path)
    buckets = [row[0] for row in conn.execute("SELECT bucket_start FROM receiver_counts")]
    conn.close()
    assert len(buckets) == 2  # the first day's bucket is gone


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("find_pushes_newest", "pushes_newest"),
        ("find_pushes_by_state", "pushes_by_state_newest"),
        ("find_pushes_by_job", "pushes_by_job_newest"),
        ("find_pushes_by_receiver", "pushes_by_receiver_newest"),
        ("find_pushes_unfinished_of_receiver", "pushes_unfinished_by_receiver"),
        ("pending_by_receiver", "pushes_unfinished_by_receiver"),
    ],
)
async def test_list_queries_walk_their_index_without_sorting(
    store: SqliteStore, query: str, index: str
) -> None:
    params = {
        "state": "pending",
        "job_id": None,
        "receiver": "https://a.example.test:443",
        "since": 0,
        "before_created": 2**62,
        "before_id": "",
        "limit": 50,
    }
    conn = sqlite3.connect(store.path)
    plan = " | ".join(
        row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + operator_sql(query), params)
    )
    conn.close()
    assert index in plan
    if query.startswith("find_pushes"):
        assert "TEMP B-TREE" not in plan, plan
