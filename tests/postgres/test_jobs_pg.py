"""The PostgreSQL job store: several instances on one database, atomic finish, lost replies."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from faxpush.core.errors import StorageError
from faxpush.storage.base import PushState
from faxpush.storage.jobs_base import DuplicateJobError, FinishedJob, JobState, NewJob
from faxpush.storage.postgres import PostgresStore
from faxpush.storage.postgres_jobs import PostgresJobStore
from tests import pg_support
from tests.contract.jobs_builders import (
    CUSTOMER,
    PUSH_PASSWORD,
    T0,
    final_report,
    job_target,
    new_job,
    push_for,
)

from .conftest import OpenStore
from .test_notify import _listening, _woken_within
from .test_reconnect import _lose_first_reply

pytestmark = pytest.mark.postgres

DONE = T0 + timedelta(seconds=40)
PURGE = DONE + timedelta(days=30)


async def _instances(
    open_store: OpenStore, count: int
) -> list[tuple[PostgresStore, PostgresJobStore]]:
    """``count`` job stores, each on a pool of its own (as separate processes would be)."""
    stores = [await open_store(max_connections=3) for _ in range(count)]
    instances = [(store, PostgresJobStore(store)) for store in stores]
    await asyncio.gather(*(jobs.migrate() for _, jobs in instances))  # they take turns
    return instances


async def _simulate(
    jobs: PostgresJobStore, instance: int, *, batch: int, reverse: bool
) -> set[str]:
    """What a simulator does: finish due jobs batch by batch (each instance its own push
    delivery ids, so that a job finished twice would show as two pushes)."""
    applied: set[str] = set()
    for _ in range(100):
        due = await jobs.due_jobs(now=DONE, limit=batch)
        if not due:
            return applied
        ordered = list(reversed(due)) if reverse else due
        finished = [
            FinishedJob(
                job.job_id,
                final_report(job.job_id),
                replace(push_for(job.job_id), delivery_id=f"{job.job_id}-by-{instance}"),
                PURGE,
            )
            for job in ordered
        ]
        applied |= await jobs.finish_jobs(finished, now=DONE)
    raise AssertionError("the due jobs were not all finished within 100 rounds")


async def test_instances_finishing_the_same_due_jobs_finish_each_once(
    open_store: OpenStore, pg_url: str
) -> None:
    instances = await _instances(open_store, 4)
    _, first = instances[0]
    ids = [f"FJ{n:04d}" for n in range(300)]
    outcomes = await first.create_jobs([new_job(job_id) for job_id in ids], now=T0)
    assert not [o for o in outcomes if isinstance(o, Exception)]

    applied = await asyncio.gather(
        *(_simulate(jobs, n, batch=50, reverse=n % 2 == 1) for n, (_, jobs) in enumerate(instances))
    )

    assert sum(len(part) for part in applied) == len(ids)
    assert set().union(*applied) == set(ids)
    async with pg_support.admin_connection(pg_url) as conn:
        pushes = await conn.fetch("SELECT job_id, delivery_id FROM pushes ORDER BY job_id")
    assert [row["job_id"] for row in pushes] == ids  # one push per job
    for n, part in enumerate(applied):
        mine = {row["job_id"] for row in pushes if row["delivery_id"].endswith(f"-by-{n}")}
        assert mine == part
    assert await first.count_jobs() == {JobState.ACTIVE: 0, JobState.FINISHED: len(ids)}


async def test_concurrent_batches_with_shared_duplicate_keys_store_one_job_per_key(
    open_store: OpenStore,
) -> None:
    instances = await _instances(open_store, 3)
    since = T0 - timedelta(minutes=10)
    keys = ["k1", "k2", "k3", "k4"]

    def batch(n: int) -> list[NewJob]:
        order = keys if n % 2 == 0 else list(reversed(keys))
        return [new_job(f"FJ{n}-{key}", dedup_key=key) for key in order]

    results = await asyncio.gather(
        *(
            jobs.create_jobs(batch(n), now=T0, duplicate_since=since)
            for n, (_, jobs) in enumerate(instances * 2)
        )
    )

    outcomes = [o for result in results for o in result]
    created = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, DuplicateJobError)]
    assert len(created) == len(keys)
    assert len(refused) == len(outcomes) - len(keys)
    assert {o.job_id for o in refused} == {job.job_id for job in created}


async def test_the_job_is_rolled_back_when_the_push_insert_fails(
    open_store: OpenStore, pg_url: str
) -> None:
    ((store, jobs),) = await _instances(open_store, 1)
    await jobs.create_job(new_job("FJ1"), now=T0)
    async with pg_support.admin_connection(pg_url) as conn:
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the outbox refuses pushes'; END; $$; "
            "CREATE TRIGGER refuse_pushes BEFORE INSERT ON pushes "
            "FOR EACH ROW EXECUTE FUNCTION refuse();"
        )

    with pytest.raises(StorageError, match="refuses pushes"):
        await jobs.finish_job("FJ1", final_report("FJ1"), push_for("FJ1"), now=DONE, purge_at=PURGE)

    job = await jobs.get_job(CUSTOMER, "FJ1")
    assert job is not None
    assert (job.state, job.report, job.finished_at) == (JobState.ACTIVE, None, None)
    assert await store.get_push("FJ1") is None


async def test_finishing_a_job_wakes_a_waiting_dispatcher(open_store: OpenStore) -> None:
    (waiter, _), (_, jobs) = await _instances(open_store, 2)
    await jobs.create_job(new_job("FJ1"), now=T0)
    await _listening(waiter)
    wait = asyncio.create_task(_woken_within(waiter, 20))
    await asyncio.sleep(0.05)

    assert await jobs.finish_job(
        "FJ1", final_report("FJ1"), push_for("FJ1"), now=DONE, purge_at=PURGE
    )

    assert await asyncio.wait_for(wait, 10) < 5


async def test_a_finish_whose_reply_was_lost_is_applied_once(
    open_store: OpenStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ((store, jobs),) = await _instances(open_store, 1)
    for job_id in ("FJ1", "FJ2"):
        await jobs.create_job(new_job(job_id), now=T0)
    _lose_first_reply(store, pg_url, monkeypatch)

    applied = await jobs.finish_jobs(
        [
            FinishedJob("FJ1", final_report("FJ1"), push_for("FJ1"), PURGE),
            FinishedJob("FJ2", final_report("FJ2"), None, PURGE),
            FinishedJob("FJ3", final_report("FJ3"), push_for("FJ3"), PURGE),
        ],
        now=DONE,
    )

    assert applied == {"FJ1", "FJ2"}
    assert await store.count_by_state() == {**dict.fromkeys(PushState, 0), PushState.PENDING: 1}
    assert await jobs.count_jobs() == {JobState.ACTIVE: 0, JobState.FINISHED: 2}


async def test_a_create_whose_reply_was_lost_returns_what_it_stored(
    open_store: OpenStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ((store, jobs),) = await _instances(open_store, 1)
    await jobs.create_job(new_job("FJOLD", dedup_key="old"), now=T0)
    _lose_first_reply(store, pg_url, monkeypatch)

    outcomes = await jobs.create_jobs(
        [
            new_job("FJA", dedup_key="new"),
            new_job("FJB", dedup_key="old"),
            new_job("FJC", dedup_key="new"),
            new_job("FJA"),
            new_job("FJOLD"),
        ],
        now=T0 + timedelta(seconds=1),
        duplicate_since=T0 - timedelta(minutes=1),
    )

    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == [
        "JobRecord",
        "DuplicateJobError",
        "DuplicateJobError",
        "StorageError",
        "StorageError",
    ]
    assert [o.job_id for o in outcomes if isinstance(o, DuplicateJobError)] == ["FJOLD", "FJA"]
    assert await jobs.count_jobs() == {JobState.ACTIVE: 2, JobState.FINISHED: 0}


async def test_jobs_survive_terminated_sessions(open_store: OpenStore, pg_url: str) -> None:
    ((_, jobs),) = await _instances(open_store, 1)
    await jobs.create_job(new_job("FJ1"), now=T0)
    assert await pg_support.terminate_sessions(pg_url) >= 1

    await jobs.create_job(new_job("FJ2"), now=T0)
    await pg_support.terminate_sessions(pg_url)
    assert [job.job_id for job in await jobs.due_jobs(now=DONE, limit=10)] == ["FJ1", "FJ2"]
    await pg_support.terminate_sessions(pg_url)
    assert await jobs.finish_job("FJ1", final_report("FJ1"), None, now=DONE, purge_at=PURGE)


async def test_job_push_credentials_are_sealed_at_rest(open_store: OpenStore, pg_url: str) -> None:
    ((_, jobs),) = await _instances(open_store, 1)
    await jobs.create_job(new_job("FJ1", target=job_target()), now=T0)

    async with pg_support.admin_connection(pg_url) as conn:
        sealed = await conn.fetchval("SELECT target_credentials FROM fax_jobs")
        versions = await conn.fetch("SELECT version, name FROM schema_version ORDER BY 1")
    assert isinstance(sealed, bytes)
    assert PUSH_PASSWORD.encode() not in sealed
    assert (2, "jobs") in [(row["version"], row["name"]) for row in versions]
