"""Contract: the emulator's job credentials are sealed with the outbox's key; the job store
rotates them itself, beside the outbox's rotation (``faxpush secrets rotate`` runs both)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from faxpush.core.errors import ConfigurationError
from faxpush.core.secrets import Secret
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.jobs_base import JobState, JobStore
from faxpush.storage.jobs_factory import open_jobs

from .conftest import TrackingBackend
from .jobs_builders import CUSTOMER, PUSH_PASSWORD, T0, final_report, job_target, new_job, push_for

FINISHED, ACTIVE, PLAIN = "FJFINISHED", "FJACTIVE", "FJPLAIN"


async def _jobs(backend: TrackingBackend, *keys: str) -> JobStore:
    return await open_jobs(await backend.open(SecretCipher(list(keys))))


async def _fill_with_job_secrets(jobs: JobStore) -> None:
    """A finished job with its push in the outbox, an active job with credentials, and one
    job without a push target of its own."""
    await jobs.create_job(new_job(FINISHED, target=job_target()), now=T0)
    await jobs.create_job(
        new_job(ACTIVE, target=job_target(), finish_at=T0 + timedelta(hours=1)), now=T0
    )
    await jobs.create_job(new_job(PLAIN), now=T0)
    assert await jobs.finish_job(
        FINISHED,
        final_report(FINISHED),
        push_for(FINISHED),
        now=T0,
        purge_at=T0 + timedelta(days=30),
    )


async def test_rotation_re_seals_job_credentials_for_the_new_key_alone(
    backend: TrackingBackend,
) -> None:
    old_key, new_key = generate_key(), generate_key()
    await _fill_with_job_secrets(await _jobs(backend, old_key))
    new_only = await _jobs(backend, new_key)
    with pytest.raises(ConfigurationError, match="encrypted with another key"):
        await new_only.get_job(CUSTOMER, ACTIVE)

    both = await backend.open(SecretCipher([new_key, old_key]))
    assert await both.rotate_secrets() == 1  # the outbox's push
    assert await (await open_jobs(both)).rotate_secrets() == 2  # the jobs' credentials

    outbox = await backend.open(SecretCipher([new_key]))
    jobs = await open_jobs(outbox)
    for job_id in (FINISHED, ACTIVE):
        job = await jobs.get_job(CUSTOMER, job_id)
        assert job is not None
        assert job.push_target == job_target()
        assert job.push_target.credentials == Secret(PUSH_PASSWORD)
    plain = await jobs.get_job(CUSTOMER, PLAIN)
    assert plain is not None
    assert plain.push_target is None
    (done,) = await jobs.list_finished(CUSTOMER)
    assert (done.job_id, done.state) == (FINISHED, JobState.FINISHED)
    due = await jobs.due_jobs(now=T0 + timedelta(hours=2), limit=10)
    assert [(job.job_id, job.push_target) for job in due] == [
        (PLAIN, None),
        (ACTIVE, job_target()),
    ]
    push = await outbox.get_push(FINISHED)
    assert push is not None
    assert push.target.credentials == Secret(PUSH_PASSWORD)

    old_only = await _jobs(backend, old_key)
    with pytest.raises(ConfigurationError, match="encrypted with another key"):
        await old_only.get_job(CUSTOMER, ACTIVE)


async def test_rotating_twice_keeps_the_job_credentials_readable(
    backend: TrackingBackend,
) -> None:
    key = generate_key()
    await _fill_with_job_secrets(await _jobs(backend, key))
    store = await backend.open(SecretCipher([key]))
    jobs = await open_jobs(store)
    for _ in range(2):
        assert (await store.rotate_secrets(), await jobs.rotate_secrets()) == (1, 2)

    job = await jobs.get_job(CUSTOMER, FINISHED)
    assert job is not None
    assert job.push_target == job_target()


async def test_each_store_rotates_only_its_own_secrets(backend: TrackingBackend) -> None:
    old_key, new_key = generate_key(), generate_key()
    await _fill_with_job_secrets(await _jobs(backend, old_key))
    both = await backend.open(SecretCipher([new_key, old_key]))
    assert await (await open_jobs(both)).rotate_secrets() == 2

    new_only = await backend.open(SecretCipher([new_key]))
    job = await (await open_jobs(new_only)).get_job(CUSTOMER, ACTIVE)
    assert job is not None
    assert job.push_target == job_target()
    with pytest.raises(ConfigurationError, match="encrypted with another key"):
        await new_only.get_push(FINISHED)  # the outbox's push still has the old key

    assert await both.rotate_secrets() == 1
    push = await new_only.get_push(FINISHED)
    assert push is not None
    assert push.target.credentials == Secret(PUSH_PASSWORD)


async def test_a_store_without_job_secrets_rotates_none(jobs: JobStore) -> None:
    await jobs.create_job(new_job(PLAIN), now=T0)
    assert await jobs.rotate_secrets() == 0
