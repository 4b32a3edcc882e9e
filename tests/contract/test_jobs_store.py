"""Contract: the emulator's job store (logins, jobs, reports, duplicates, purge)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from faxpush.storage.base import Store
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.jobs_base import DuplicateJobError, JobState, JobStore, Login
from faxpush.storage.jobs_factory import open_jobs

from .conftest import TrackingBackend
from .jobs_builders import (
    CUSTOMER,
    OTHER,
    PUSH_PASSWORD,
    T0,
    final_report,
    finished_jobs,
    job_target,
    new_job,
)


async def test_logins_are_stored_replaced_and_listed_per_customer(jobs: JobStore) -> None:
    await jobs.put_login(Login("bob", CUSTOMER, "scrypt$hash-1", T0))
    await jobs.put_login(Login("alice", CUSTOMER, "scrypt$hash-2", T0))
    await jobs.put_login(Login("carol", OTHER, "scrypt$hash-3", T0))
    await jobs.put_login(Login("bob", CUSTOMER, "scrypt$hash-4", T0 + timedelta(days=1)))

    bob = await jobs.get_login("bob")
    assert bob is not None
    assert (bob.customer_number, bob.password_hash, bob.created_at) == (
        CUSTOMER,
        "scrypt$hash-4",
        T0,
    )
    assert await jobs.get_login("nobody") is None
    assert [x.login for x in await jobs.list_logins()] == ["alice", "bob", "carol"]
    assert [x.login for x in await jobs.list_logins(CUSTOMER)] == ["alice", "bob"]
    assert [x.login for x in await jobs.list_logins(OTHER)] == ["carol"]


async def test_a_new_job_is_active_and_visible_to_its_customer_only(jobs: JobStore) -> None:
    created = await jobs.create_job(
        new_job("FJ1", target=job_target(), purge_at=T0 + timedelta(days=2)), now=T0
    )

    assert created.state is JobState.ACTIVE
    assert created.report is None
    assert created.finished_at is None
    found = await jobs.get_job(CUSTOMER, "FJ1")
    assert found == created
    assert found is not None
    assert found.push_target == job_target()
    assert found.plan == '{"plan": "FJ1"}'
    assert found.purge_at == T0 + timedelta(days=2)
    assert await jobs.get_job(OTHER, "FJ1") is None
    assert await jobs.get_job(CUSTOMER, "FJ2") is None
    assert await jobs.count_jobs() == {JobState.ACTIVE: 1, JobState.FINISHED: 0}


async def test_push_credentials_of_a_job_are_not_stored_in_plain_text(
    backend: TrackingBackend, jobs: JobStore
) -> None:
    await jobs.create_job(new_job("FJ1", target=job_target()), now=T0)
    files = backend.database_files()
    if files is None:
        pytest.skip("this backend keeps no files")
    for path in files:
        assert PUSH_PASSWORD.encode("utf-8") not in path.read_bytes(), path


async def test_a_duplicate_within_the_window_is_refused_and_not_stored(jobs: JobStore) -> None:
    await jobs.create_job(new_job("FJ1", dedup_key="k1"), now=T0)
    later = T0 + timedelta(minutes=5)

    with pytest.raises(DuplicateJobError) as caught:
        await jobs.create_job(
            new_job("FJ2", dedup_key="k1"), now=later, duplicate_since=later - timedelta(minutes=10)
        )

    assert caught.value.job_id == "FJ1"
    assert "FJ1" in str(caught.value)
    assert await jobs.get_job(CUSTOMER, "FJ2") is None
    assert (await jobs.count_jobs())[JobState.ACTIVE] == 1


async def test_duplicates_outside_the_window_or_without_a_key_are_accepted(
    jobs: JobStore,
) -> None:
    await jobs.create_job(new_job("FJ1", dedup_key="k1"), now=T0)
    later = T0 + timedelta(minutes=20)
    window_start = later - timedelta(minutes=10)

    await jobs.create_job(new_job("FJ2", dedup_key="k1"), now=later, duplicate_since=window_start)
    await jobs.create_job(new_job("FJ3", dedup_key="k2"), now=later, duplicate_since=window_start)
    await jobs.create_job(new_job("FJ4"), now=later, duplicate_since=window_start)
    await jobs.create_job(new_job("FJ5", dedup_key="k2"), now=later)  # check off

    assert (await jobs.count_jobs())[JobState.ACTIVE] == 5


async def test_concurrent_duplicates_store_exactly_one_job(
    backend: TrackingBackend, cipher: SecretCipher, jobs: JobStore
) -> None:
    second = await open_jobs(await backend.open(cipher))
    since = T0 - timedelta(minutes=10)
    outcomes = await asyncio.gather(
        *(
            handle.create_job(new_job(f"FJ{n}", dedup_key="same"), now=T0, duplicate_since=since)
            for n, handle in enumerate([jobs, second] * 4)
        ),
        return_exceptions=True,
    )

    created = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, DuplicateJobError)]
    assert len(created) == 1
    assert len(refused) == 7
    assert {r.job_id for r in refused} == {created[0].job_id}


async def test_due_jobs_come_earliest_first_and_next_finish_is_known(jobs: JobStore) -> None:
    assert await jobs.next_finish_at() is None
    for n, seconds in enumerate([30, 10, 20, 40]):
        await jobs.create_job(new_job(f"FJ{n}", finish_at=T0 + timedelta(seconds=seconds)), now=T0)

    assert await jobs.next_finish_at() == T0 + timedelta(seconds=10)
    due = await jobs.due_jobs(now=T0 + timedelta(seconds=30), limit=10)
    assert [job.job_id for job in due] == ["FJ1", "FJ2", "FJ0"]
    assert [j.job_id for j in await jobs.due_jobs(now=T0 + timedelta(hours=1), limit=2)] == [
        "FJ1",
        "FJ2",
    ]
    assert await jobs.due_jobs(now=T0 + timedelta(seconds=9), limit=10) == []


async def test_reports_list_oldest_finished_first_within_the_limit(jobs: JobStore) -> None:
    ids = await finished_jobs(jobs, 5)
    await finished_jobs(jobs, 2, customer=OTHER)
    await jobs.create_job(new_job("FJACTIVE"), now=T0)

    listed = await jobs.list_finished(CUSTOMER)
    assert [job.job_id for job in listed] == ids
    assert all(job.state is JobState.FINISHED for job in listed)
    assert listed[0].report == final_report(ids[0])
    assert [job.job_id for job in await jobs.list_finished(CUSTOMER, limit=2)] == ids[:2]


async def test_get_jobs_keeps_the_order_asked_and_skips_others(jobs: JobStore) -> None:
    ids = await finished_jobs(jobs, 3)
    (other,) = await finished_jobs(jobs, 1, customer=OTHER)
    await jobs.create_job(new_job("FJACTIVE"), now=T0)

    asked = [ids[2], "FJUNKNOWN", other, "FJACTIVE", ids[0], ids[2]]
    found = await jobs.get_jobs(CUSTOMER, asked)

    assert [job.job_id for job in found] == [ids[2], "FJACTIVE", ids[0]]


async def test_delete_reports_deletes_finished_jobs_of_the_customer_only(jobs: JobStore) -> None:
    ids = await finished_jobs(jobs, 3)
    (other,) = await finished_jobs(jobs, 1, customer=OTHER)
    await jobs.create_job(new_job("FJACTIVE"), now=T0)

    deleted = await jobs.delete_reports(CUSTOMER, [ids[0], ids[2], other, "FJACTIVE", "FJNONE"])

    assert deleted == {ids[0], ids[2]}
    assert [job.job_id for job in await jobs.list_finished(CUSTOMER)] == [ids[1]]
    assert await jobs.get_job(OTHER, other) is not None
    assert await jobs.get_job(CUSTOMER, "FJACTIVE") is not None
    assert await jobs.delete_reports(CUSTOMER, []) == set()


async def test_delete_oldest_takes_the_oldest_finished_reports(jobs: JobStore) -> None:
    ids = await finished_jobs(jobs, 5)
    await finished_jobs(jobs, 1, customer=OTHER)
    await jobs.create_job(new_job("FJACTIVE"), now=T0)

    assert await jobs.delete_oldest(CUSTOMER, limit=3) == ids[:3]
    assert await jobs.delete_oldest(CUSTOMER) == ids[3:]
    assert await jobs.delete_oldest(CUSTOMER) == []
    assert await jobs.count_jobs() == {JobState.ACTIVE: 1, JobState.FINISHED: 1}


async def test_purge_deletes_finished_reports_past_their_time_only(jobs: JobStore) -> None:
    ids = await finished_jobs(jobs, 3)  # purge_at: finished + 30 days, one second apart
    await jobs.create_job(new_job("FJACTIVE", purge_at=T0), now=T0)

    purge_time = T0 + timedelta(days=30, seconds=1)
    assert await jobs.purge_reports(now=purge_time) == 2
    assert [job.job_id for job in await jobs.list_finished(CUSTOMER)] == [ids[2]]
    assert await jobs.get_job(CUSTOMER, "FJACTIVE") is not None
    assert await jobs.purge_reports(now=purge_time) == 0


async def test_jobs_survive_reopening_the_database(
    backend: TrackingBackend, cipher: SecretCipher, jobs: JobStore, store: Store
) -> None:
    (finished,) = await finished_jobs(jobs, 1)
    await jobs.create_job(new_job("FJACTIVE", target=job_target()), now=T0)
    await jobs.put_login(Login("alice", CUSTOMER, "scrypt$h", T0))
    await store.close()

    reopened = await open_jobs(await backend.open(cipher))

    active = await reopened.get_job(CUSTOMER, "FJACTIVE")
    assert active is not None
    assert active.push_target == job_target()
    done = await reopened.get_job(CUSTOMER, finished)
    assert done is not None
    assert done.report == final_report(finished)
    assert await reopened.get_login("alice") is not None


async def test_create_jobs_stores_a_batch_and_reports_each_refusal(jobs: JobStore) -> None:
    await jobs.create_job(new_job("FJOLD", dedup_key="old"), now=T0)
    batch = [
        new_job("FJA"),
        new_job("FJB", dedup_key="old"),  # duplicates a stored job
        new_job("FJC", dedup_key="new"),
        new_job("FJD", dedup_key="new"),  # duplicates an earlier job of the same batch
        new_job("FJA"),  # an id that is taken
        new_job("FJE", dedup_key="new"),
    ]

    outcomes = await jobs.create_jobs(batch, now=T0, duplicate_since=T0 - timedelta(minutes=1))

    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == [
        "JobRecord",
        "DuplicateJobError",
        "JobRecord",
        "DuplicateJobError",
        "StorageError",
        "DuplicateJobError",
    ]
    duplicates = [o for o in outcomes if isinstance(o, DuplicateJobError)]
    assert [d.job_id for d in duplicates] == ["FJOLD", "FJC", "FJC"]
    assert [j.job_id for j in await jobs.due_jobs(now=T0, limit=10)] == ["FJOLD", "FJA", "FJC"]
    assert await jobs.create_jobs([], now=T0) == []
