"""``faxpush serve`` on PostgreSQL: jobs are accepted and finished; instances share a database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from faxpush.storage.jobs_base import JobState
from tests import pg_support
from tests.emulator.harness import basic_auth, running_emulator
from tests.emulator.processes import start_serve

pytestmark = pytest.mark.postgres


@pytest.fixture
async def unmigrated_url() -> AsyncIterator[str]:
    """A new, empty database (``faxpush serve`` creates the schema), dropped afterwards."""
    pg_support.require_postgres()
    async with pg_support.fresh_database() as url:
        yield url


async def test_serve_on_postgres_accepts_a_job_and_finishes_it(
    tmp_path: Path, unmigrated_url: str
) -> None:
    # The later --database-url wins over the SQLite one the helper passes first.
    server = await start_serve(
        tmp_path / "unused.db", "--database-url", unmigrated_url, "--sim-speed", "0"
    )
    try:
        assert server.created is not None
        customer, login, password = server.created
        sample = "\n".join(server.lines).split(" -d '", 1)[1].split("'", 1)[0]
        async with aiohttp.ClientSession(
            headers={"Authorization": basic_auth(login, password)},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as session:
            url = f"{server.url}/rest/v1/{customer}/fax"
            async with session.post(
                url, data=sample, headers={"Content-Type": "application/json"}
            ) as response:
                assert response.status == 201
                job_id = (await response.json())["jobId"]
            async with asyncio.timeout(10):
                while True:
                    async with session.get(f"{url}/reports/{job_id}") as response:
                        assert response.status == 200
                        report = await response.json()
                    if report["recipientStatus"][0]["status"] != "PENDING":
                        break
                    await asyncio.sleep(0.05)
        assert report["recipientStatus"][0]["status"] == "OK"
    finally:
        assert await server.terminate() == 0
    assert not (tmp_path / "unused.db").exists()
    async with pg_support.admin_connection(unmigrated_url) as conn:
        state = await conn.fetchval("SELECT state FROM fax_jobs WHERE job_id = $1", job_id)
    assert state == "finished"


async def test_two_emulators_on_one_database_finish_every_job_once(
    tmp_path: Path, unmigrated_url: str
) -> None:
    async with running_emulator(tmp_path / "a", database_url=unmigrated_url) as first:
        credentials = (first.customer, first.login, first.password)
        async with running_emulator(
            tmp_path / "b", database_url=unmigrated_url, credentials=credentials
        ) as second:
            sent = await asyncio.gather(*(emulator.send() for emulator in [first, second] * 10))
            for job_id in sent:
                job = await first.finished(job_id)
                assert job.state is JobState.FINISHED
            seen_by_second = await second.services.jobs.get_jobs(first.customer, sent)
            assert [job.job_id for job in seen_by_second] == sent
            finished = first.services.simulator.finished + second.services.simulator.finished
            assert finished == len(sent)
