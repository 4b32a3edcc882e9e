"""The shared database layer: query files, statement splitting and the SQLite migrator
(the PostgreSQL migrator is tested in ``tests/postgres/test_db_migrator.py``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from faxpush._db.migrations import Schema, load_migrations, migrate_sqlite
from faxpush._db.queries import parse_queries, split_statements
from faxpush.core.errors import StorageError

GOOD = Schema("tests.unit", "db_layer/good", "test_schema_version", "test lock", "the test db")


def test_named_queries_carry_their_description() -> None:
    text = (
        "-- The file's own preamble.\n\n"
        "-- name: one\n-- Count the notes.\n-- More about it.\nSELECT count(*) FROM notes;\n\n"
        "-- name: two\n-- Add a note.\nINSERT INTO notes (body) VALUES (:body);\n"
    )
    queries = parse_queries(text, "notes.sql")
    assert list(queries) == ["one", "two"]
    assert queries["one"].description == "Count the notes."
    assert queries["one"].sql.endswith("SELECT count(*) FROM notes;")
    assert queries["two"].sql == "-- Add a note.\nINSERT INTO notes (body) VALUES (:body);"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-- name: one\nSELECT 1;\n", "has no description"),
        ("-- name: one\n-- Only words.\n", "has no SQL"),
        ("-- name: one\n-- A.\nSELECT 1;\n-- name: one\n-- B.\nSELECT 2;\n", "defined twice"),
    ],
)
def test_a_malformed_query_file_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(StorageError, match=problem) as caught:
        parse_queries(text, "notes.sql")
    assert "notes.sql" in str(caught.value)


def test_statements_are_split_where_sqlite_ends_them() -> None:
    script = "CREATE TABLE t (x TEXT);\nINSERT INTO t VALUES ('a;b');\n-- a comment\nSELECT 1"
    assert split_statements(script) == [
        "CREATE TABLE t (x TEXT);",
        "INSERT INTO t VALUES ('a;b');",
        "-- a comment\nSELECT 1",
    ]


def test_sqlite_migrations_apply_once_and_record_their_versions(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert migrate_sqlite(conn, GOOD, where="x.db") == 2
    assert migrate_sqlite(conn, GOOD, where="x.db") == 0
    assert conn.execute("SELECT body, tag FROM notes").fetchall() == [("one; two", None)]
    versions = conn.execute("SELECT version, name FROM test_schema_version ORDER BY 1")
    assert versions.fetchall() == [(1, "first"), (2, "second")]


def test_a_database_newer_than_faxpush_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    migrate_sqlite(conn, GOOD, where="x.db")
    conn.execute("INSERT INTO test_schema_version VALUES (3, 'future', 0)")
    with pytest.raises(StorageError, match=r"the test db x\.db has schema version 3, newer"):
        migrate_sqlite(conn, GOOD, where="x.db")
    assert not conn.in_transaction


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")  # 0001 will fail on it
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        migrate_sqlite(conn, GOOD, where="x.db")
    assert not conn.in_transaction
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"notes"}


def test_a_gap_in_the_shipped_migrations_is_refused() -> None:
    with pytest.raises(StorageError, match=r"incomplete \(found versions \[1, 3\]\)"):
        load_migrations("tests.unit", "db_layer/gap")


def test_the_version_table_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValueError, match="not a plain identifier"):
        Schema("tests.unit", "db_layer/good", "v; DROP TABLE x", "lock", "db")
