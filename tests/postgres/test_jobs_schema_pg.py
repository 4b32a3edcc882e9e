"""The PostgreSQL job store keeps its own schema: a fresh database gets the job tables from
the job store, and a database whose job tables the outbox created (its old migration 0002,
kept in ``tests/data/jobs_layout``) upgrades and keeps its jobs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.copy import copy_outbox
from faxpush.storage.jobs_base import JobState, Login
from faxpush.storage.jobs_factory import jobs_for, open_jobs
from faxpush.storage.postgres_jobs import PostgresJobStore
from faxpush.storage.sqlite import SqliteStore
from tests import pg_support
from tests.contract.builders import NOW, new_push
from tests.contract.jobs_builders import CUSTOMER, T0, job_target, new_job

from .conftest import OpenStore

pytestmark = pytest.mark.postgres

OLD_JOB_TABLES = (
    Path(__file__).parents[1] / "data" / "jobs_layout" / "outbox_0002_jobs_postgresql.sql"
)
JOB_TABLES = ["fax_jobs", "rest_logins"]


async def _layout(url: str) -> dict[str, list[tuple[object, ...]]]:
    """The job tables' columns, constraints and indexes as the server describes them."""
    async with pg_support.admin_connection(url) as conn:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default,"
            " is_identity FROM information_schema.columns"
            " WHERE table_name = ANY ($1::text[]) ORDER BY 1, 2",
            JOB_TABLES,
        )
        constraints = await conn.fetch(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid::regclass::text = ANY ($1::text[]) ORDER BY 1, 2",
            JOB_TABLES,
        )
        indexes = await conn.fetch(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE tablename = ANY ($1::text[]) ORDER BY 1, 2",
            JOB_TABLES,
        )
    return {
        "columns": [tuple(row) for row in columns],
        "constraints": [tuple(row) for row in constraints],
        "indexes": [tuple(row) for row in indexes],
    }


async def _versions(url: str) -> list[int]:
    async with pg_support.admin_connection(url) as conn:
        found = await conn.fetch("SELECT version FROM jobs_schema_version ORDER BY 1")
    return [row["version"] for row in found]


async def test_the_outbox_leaves_the_job_tables_to_the_job_store(
    open_store: OpenStore, pg_url: str
) -> None:
    stores = [await open_store() for _ in range(3)]
    assert (await _layout(pg_url))["columns"] == []
    await asyncio.gather(*(PostgresJobStore(store).migrate() for store in stores))  # in turns
    jobs = await open_jobs(stores[0])  # again: a no-op
    await jobs.create_job(new_job("FJ1", target=job_target()), now=T0)
    assert (await jobs.count_jobs())[JobState.ACTIVE] == 1
    assert await _versions(pg_url) == [1]


async def test_job_tables_made_by_the_outbox_are_kept_with_their_jobs(
    open_store: OpenStore, pg_url: str
) -> None:
    async with pg_support.admin_connection(pg_url) as conn:  # the layout before
        await conn.execute(OLD_JOB_TABLES.read_text(encoding="utf-8"))
    store = await open_store()
    before = jobs_for(store)
    await before.put_login(Login("alice", CUSTOMER, "scrypt$hash", T0))
    await before.create_job(new_job("FJOLD", target=job_target()), now=T0)
    old_layout = await _layout(pg_url)

    jobs = await open_jobs(store)
    job = await jobs.get_job(CUSTOMER, "FJOLD")
    assert job is not None
    assert job.push_target == job_target()
    assert [login.login for login in await jobs.list_logins()] == ["alice"]
    await jobs.create_job(new_job("FJNEW"), now=T0)
    assert (await jobs.count_jobs())[JobState.ACTIVE] == 2
    assert await _versions(pg_url) == [1]
    assert await _layout(pg_url) == old_layout

    async with pg_support.fresh_database(await pg_support.outbox_template()) as fresh:
        await open_jobs(await open_store(fresh))
        assert await _layout(fresh) == old_layout  # the very same tables and indexes


async def test_an_outbox_without_job_tables_is_copied(tmp_path: Path, pg_url: str) -> None:
    """An outbox that never held the emulator's tables copies (with no jobs) and the target
    gets the job tables all the same."""
    cipher = SecretCipher([generate_key()])
    source = await SqliteStore.open(tmp_path / "outbox.db", cipher)
    try:
        await source.migrate()
        await source.enqueue(new_push("d1"), now=NOW)
    finally:
        await source.close()

    report = await copy_outbox(f"sqlite:///{tmp_path / 'outbox.db'}", pg_url, source_cipher=cipher)

    assert (report.rows["pushes"], report.rows["fax_jobs"], report.rows["rest_logins"]) == (1, 0, 0)
    assert await _versions(pg_url) == [1]


async def test_a_postgresql_outbox_without_job_tables_is_copied(
    open_store: OpenStore, pg_url: str
) -> None:
    store = await open_store()
    await store.enqueue(new_push("d1"), now=NOW)
    assert (await _layout(pg_url))["columns"] == []

    async with pg_support.fresh_database() as target:
        report = await copy_outbox(pg_url, target, source_cipher=store.cipher)
        assert (report.rows["pushes"], report.rows["fax_jobs"]) == (1, 0)
        assert await _versions(target) == [1]
