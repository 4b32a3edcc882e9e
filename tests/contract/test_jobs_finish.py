"""Contract: finishing a job writes its report and enqueues its push atomically."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from faxpush.core.errors import FaxpushError, StorageError
from faxpush.storage.base import PushState, Store
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.jobs_base import FinishedJob, JobState, JobStore
from faxpush.storage.jobs_factory import open_jobs
from faxpush.storage.sqlite import SqliteStore

from .conftest import TrackingBackend
from .jobs_builders import CUSTOMER, T0, final_report, job_target, new_job, push_for

DONE = T0 + timedelta(seconds=40)
PURGE = DONE + timedelta(days=30)


async def test_finish_stores_the_report_and_enqueues_the_push(jobs: JobStore, store: Store) -> None:
    await jobs.create_job(new_job("FJ1", target=job_target()), now=T0)

    applied = await jobs.finish_job(
        "FJ1", final_report("FJ1"), push_for("FJ1"), now=DONE, purge_at=PURGE
    )

    assert applied
    job = await jobs.get_job(CUSTOMER, "FJ1")
    assert job is not None
    assert (job.state, job.report, job.finished_at, job.purge_at) == (
        JobState.FINISHED,
        final_report("FJ1"),
        DONE,
        PURGE,
    )
    push = await store.get_push("FJ1")
    assert push is not None
    assert push.state is PushState.PENDING
    assert push.body == push_for("FJ1").body
    assert push.target == job_target()
    assert push.next_attempt_at == DONE
    assert await jobs.due_jobs(now=DONE, limit=10) == []


async def test_a_job_is_finished_once(jobs: JobStore, store: Store) -> None:
    await jobs.create_job(new_job("FJ1"), now=T0)
    assert await jobs.finish_job(
        "FJ1", final_report("FJ1"), push_for("FJ1"), now=DONE, purge_at=PURGE
    )

    again = await jobs.finish_job(
        "FJ1",
        final_report("FJ1", status="BUSY"),
        replace(push_for("FJ1"), delivery_id="FJ1-again"),
        now=DONE + timedelta(seconds=1),
        purge_at=PURGE,
    )

    assert not again
    job = await jobs.get_job(CUSTOMER, "FJ1")
    assert job is not None
    assert job.report == final_report("FJ1")
    assert await store.get_push("FJ1-again") is None
    assert not await jobs.finish_job(
        "FJNONE", final_report("FJNONE"), None, now=DONE, purge_at=PURGE
    )


async def test_concurrent_finishes_enqueue_one_push(
    backend: TrackingBackend, cipher: SecretCipher, jobs: JobStore, store: Store
) -> None:
    await jobs.create_job(new_job("FJ1"), now=T0)
    second = await open_jobs(await backend.open(cipher))

    results = await asyncio.gather(
        *(
            handle.finish_job(
                "FJ1",
                final_report("FJ1"),
                replace(push_for("FJ1"), delivery_id=f"FJ1-{n}"),
                now=DONE,
                purge_at=PURGE,
            )
            for n, handle in enumerate([jobs, second] * 3)
        )
    )

    assert sorted(results) == [False] * 5 + [True]
    pushes = [await store.get_push(f"FJ1-{n}") for n in range(6)]
    assert sum(push is not None for push in pushes) == 1


async def test_finish_without_a_push_only_stores_the_report(jobs: JobStore, store: Store) -> None:
    await jobs.create_job(new_job("FJ1"), now=T0)

    assert await jobs.finish_job("FJ1", final_report("FJ1"), None, now=DONE, purge_at=PURGE)

    assert await store.get_push("FJ1") is None
    assert (await jobs.count_jobs())[JobState.FINISHED] == 1


async def test_a_push_that_cannot_be_stored_leaves_the_job_active(
    jobs: JobStore, store: Store
) -> None:
    await jobs.create_job(new_job("FJ1"), now=T0)
    naive = datetime(2024, 5, 6, 9, 0)  # a naive time: refused by every store
    bad_push = replace(push_for("FJ1"), not_before=naive)

    with pytest.raises(FaxpushError):
        await jobs.finish_job("FJ1", final_report("FJ1"), bad_push, now=DONE, purge_at=PURGE)

    job = await jobs.get_job(CUSTOMER, "FJ1")
    assert job is not None
    assert job.state is JobState.ACTIVE
    assert await store.get_push("FJ1") is None
    assert [j.job_id for j in await jobs.due_jobs(now=DONE, limit=5)] == ["FJ1"]


async def test_sqlite_rolls_the_job_back_when_the_push_insert_fails(
    jobs: JobStore, store: Store
) -> None:
    if not isinstance(store, SqliteStore):
        pytest.skip("a failure in the middle of a SQL transaction needs a SQL backend")
    await jobs.create_job(new_job("FJ1"), now=T0)
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_pushes BEFORE INSERT ON pushes "
            "BEGIN SELECT RAISE(ABORT, 'the outbox refuses pushes'); END"
        )

    with pytest.raises(StorageError, match="refuses pushes"):
        await jobs.finish_job("FJ1", final_report("FJ1"), push_for("FJ1"), now=DONE, purge_at=PURGE)

    job = await jobs.get_job(CUSTOMER, "FJ1")
    assert job is not None
    assert job.state is JobState.ACTIVE
    assert job.report is None


async def test_finish_jobs_applies_a_batch_in_one_go(jobs: JobStore, store: Store) -> None:
    for job_id in ("FJ1", "FJ2", "FJ3"):
        await jobs.create_job(new_job(job_id), now=T0)
    assert await jobs.finish_job("FJ3", final_report("FJ3"), None, now=DONE, purge_at=PURGE)

    applied = await jobs.finish_jobs(
        [
            FinishedJob("FJ1", final_report("FJ1"), push_for("FJ1"), PURGE),
            FinishedJob("FJ2", final_report("FJ2", status="BUSY"), None, PURGE),
            FinishedJob("FJ3", final_report("FJ3"), push_for("FJ3"), PURGE),
            FinishedJob("FJ4", final_report("FJ4"), push_for("FJ4"), PURGE),
        ],
        now=DONE,
    )

    assert applied == {"FJ1", "FJ2"}
    assert await store.get_push("FJ1") is not None
    assert await store.get_push("FJ3") is None
    assert await store.get_push("FJ4") is None
    second = await jobs.get_job(CUSTOMER, "FJ2")
    assert second is not None
    assert second.report == final_report("FJ2", status="BUSY")
    assert await jobs.finish_jobs([], now=DONE) == set()


async def test_a_bad_push_in_a_batch_finishes_none_of_it(jobs: JobStore, store: Store) -> None:
    for job_id in ("FJ1", "FJ2"):
        await jobs.create_job(new_job(job_id), now=T0)
    naive = datetime(2024, 5, 6, 9, 0)  # a naive time: refused by every store

    with pytest.raises(FaxpushError):
        await jobs.finish_jobs(
            [
                FinishedJob("FJ1", final_report("FJ1"), push_for("FJ1"), PURGE),
                FinishedJob(
                    "FJ2", final_report("FJ2"), replace(push_for("FJ2"), not_before=naive), PURGE
                ),
            ],
            now=DONE,
        )

    assert await jobs.count_jobs() == {JobState.ACTIVE: 2, JobState.FINISHED: 0}
    assert await store.get_push("FJ1") is None
