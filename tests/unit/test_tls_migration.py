"""Migration 0003 (TLS material) upgrades a SQLite outbox that already holds data."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from faxpush._db.migrations import load_migrations
from faxpush.core.targets import Account, PushTarget
from faxpush.storage.base import NewPush
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _schema_at_version_2(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at INTEGER NOT NULL)"
        )
        for migration in load_migrations("faxpush.storage", "sql/sqlite")[:2]:
            conn.executescript(migration.sql)
            conn.execute(
                "INSERT INTO schema_version VALUES (?, ?, 0)", (migration.version, migration.name)
            )
        conn.execute(
            "INSERT INTO accounts (customer_number, push_format, push_auth, oauth2_client_auth,"
            " retry_client_errors) VALUES ('4711', 'xml', 'NONE', 'client_secret_basic', 0)"
        )


async def test_an_existing_outbox_gains_the_tls_columns(tmp_path: Path) -> None:
    path = tmp_path / "faxpush.db"
    _schema_at_version_2(path)
    store = await SqliteStore.open(path, SecretCipher([generate_key()]))
    try:
        await store.migrate()
        assert await store.get_account("4711") == Account("4711")
        target = PushTarget(url="https://hooks.example.org/", ca_pem="PEM")
        push = NewPush("d1", "FJ1", target, "text/xml", b"<x/>")
        await store.enqueue(push, now=NOW)
        stored = await store.get_push("d1")
    finally:
        await store.close()
    assert stored is not None
    assert stored.target == target
    with sqlite3.connect(path) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
    assert versions[:3] == [1, 2, 3]
