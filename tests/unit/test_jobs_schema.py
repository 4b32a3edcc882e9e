"""The SQLite job store keeps its own schema: a fresh database gets the job tables from the
job store, and a database whose job tables the outbox created (its old migration 0002,
kept in ``tests/data/jobs_layout``) upgrades and keeps its jobs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from faxpush._db.migrations import load_migrations
from faxpush.storage._sqlite_sql import SCHEMA
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.jobs_base import JobState, Login
from faxpush.storage.jobs_factory import jobs_for, open_jobs
from faxpush.storage.sqlite import SqliteStore
from tests.contract.jobs_builders import CUSTOMER, T0, job_target, new_job

OLD_JOB_TABLES = Path(__file__).parents[1] / "data" / "jobs_layout" / "outbox_0002_jobs_sqlite.sql"
JOB_OBJECTS = (
    "SELECT type, name, tbl_name, sql FROM sqlite_master "
    "WHERE tbl_name IN ('fax_jobs', 'rest_logins') ORDER BY type, name"
)


def _rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return [tuple(row) for row in conn.execute(query)]


def _objects(path: Path) -> list[tuple[object, ...]]:
    """The job tables and indexes as SQLite keeps them, whitespace aside."""
    return [(*row[:3], " ".join(str(row[3]).split())) for row in _rows(path, JOB_OBJECTS)]


def _tables(path: Path) -> set[str]:
    found = _rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(name) for (name,) in found}


async def _outbox(path: Path) -> SqliteStore:
    store = await SqliteStore.open(path, SecretCipher([generate_key()]))
    await store.migrate()
    return store


async def test_the_outbox_leaves_the_job_tables_to_the_job_store(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    store = await _outbox(path)
    try:
        assert not {"fax_jobs", "rest_logins", "jobs_schema_version"} & _tables(path)
        jobs = await open_jobs(store)
        await jobs.migrate()  # again: a no-op
        await jobs.create_job(new_job("FJ1", target=job_target()), now=T0)
        assert (await jobs.count_jobs())[JobState.ACTIVE] == 1
    finally:
        await store.close()
    assert {"fax_jobs", "rest_logins"} <= _tables(path)
    assert _rows(path, "SELECT version, name FROM jobs_schema_version") == [(1, "jobs")]
    outbox = [m.version for m in load_migrations(SCHEMA.package, SCHEMA.folder)]
    assert [v for (v,) in _rows(path, "SELECT version FROM schema_version")] == outbox


async def test_job_tables_made_by_the_outbox_are_kept_with_their_jobs(tmp_path: Path) -> None:
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    store = await _outbox(old)
    try:
        with sqlite3.connect(old) as conn:  # the layout before the job store's own schema
            conn.executescript(OLD_JOB_TABLES.read_text(encoding="utf-8"))
        before = jobs_for(store)
        await before.put_login(Login("alice", CUSTOMER, "scrypt$hash", T0))
        await before.create_job(new_job("FJOLD", target=job_target()), now=T0)

        jobs = await open_jobs(store)
        job = await jobs.get_job(CUSTOMER, "FJOLD")
        assert job is not None
        assert job.push_target == job_target()
        assert [login.login for login in await jobs.list_logins()] == ["alice"]
        await jobs.create_job(new_job("FJNEW"), now=T0)
        assert (await jobs.count_jobs())[JobState.ACTIVE] == 2
    finally:
        await store.close()
    assert _rows(old, "SELECT version FROM jobs_schema_version") == [(1,)]

    fresh_store = await _outbox(fresh)
    try:
        await open_jobs(fresh_store)
    finally:
        await fresh_store.close()
    assert _objects(old) == _objects(fresh)  # the very same tables and indexes
