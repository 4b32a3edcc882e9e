"""Crash safety: SIGKILL ``faxpush serve`` with 200 jobs in flight, restart, lose nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.integration.servers import always_ok, serve

from .harness import MINIMAL_JOB, basic_auth
from .processes import serve_env, start_serve

JOBS = 200
CLIENTS = 50


def _states(database: Path) -> tuple[dict[str, int], dict[str, int]]:
    with sqlite3.connect(database) as conn:
        jobs = dict(conn.execute("SELECT state, count(*) FROM fax_jobs GROUP BY state"))
        pushes = dict(conn.execute("SELECT state, count(*) FROM pushes GROUP BY state"))
    return jobs, pushes


@pytest.mark.slow
async def test_sigkill_with_jobs_in_flight_loses_no_job_and_no_push(tmp_path: Path) -> None:
    database = tmp_path / "faxpush.db"
    env = serve_env(FAXPUSH_RETRY_DELAYS="0,0.2s,0.5s,1s,1s,1s,1s")
    async with serve(always_ok) as receiver:
        job = {
            **MINIMAL_JOB,
            "statusReportOptions": {"httpStatusPush": {"targetUrl": receiver.url("/push")}},
        }
        first = await start_serve(database, "--sim-speed", "0.1", env=env)
        assert first.created is not None
        customer, login, password = first.created
        job_ids: list[str] = []
        try:
            async with aiohttp.ClientSession(
                headers={"Authorization": basic_auth(login, password)},
                timeout=aiohttp.ClientTimeout(total=20),
            ) as session:
                url = f"{first.url}/rest/v1/{customer}/fax"
                slots = asyncio.Semaphore(CLIENTS)

                async def submit() -> None:
                    async with slots, session.post(url, json=job) as response:
                        assert response.status == 201
                        job_ids.append((await response.json())["jobId"])

                await asyncio.gather(*(submit() for _ in range(JOBS)))
            delivered_before_kill = {r.headers["Faxpush-Delivery-Id"] for r in receiver.requests}
        finally:
            await first.kill()

        assert len(set(job_ids)) == JOBS
        jobs_at_kill, _ = _states(database)
        assert jobs_at_kill.get("active", 0) > 0, (
            "the jobs finished before the kill; slow them down"
        )
        assert len(delivered_before_kill) < JOBS

        second = await start_serve(database, "--sim-speed", "0.1", env=env)
        try:
            async with asyncio.timeout(60):
                while True:
                    received = {r.headers["Faxpush-Delivery-Id"] for r in receiver.requests}
                    jobs, pushes = _states(database)
                    if received >= set(job_ids) and pushes.get("delivered") == JOBS:
                        break
                    await asyncio.sleep(0.1)
        finally:
            assert await second.terminate() == 0

    assert jobs == {"finished": JOBS}
    assert pushes == {"delivered": JOBS}
    assert received == set(job_ids)
    bodies = {r.headers["Faxpush-Delivery-Id"]: r.body for r in receiver.requests}
    assert all(f"<jobId>{job_id}</jobId>".encode() in bodies[job_id] for job_id in job_ids)
