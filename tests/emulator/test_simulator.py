"""The simulator's background work: finishing due jobs, purging expired reports."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faxpush.core.settings import Settings
from faxpush.core.targets import Account
from faxpush.emulator.config import SimulatorConfig
from faxpush.emulator.plan import PageCount, plan_job
from faxpush.emulator.simulator import Simulator
from faxpush.emulator.validation import parse_job_request
from faxpush.storage.base import PushState
from faxpush.storage.jobs_base import JobState, NewJob
from faxpush.storage.memory import MemoryStore
from faxpush.storage.memory_jobs import MemoryJobStore

from .harness import MINIMAL_JOB, Emulator, running_emulator

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


async def _job(jobs: MemoryJobStore, job_id: str, *, speed: float, customer: str = "C1") -> None:
    request = parse_job_request(json.dumps(MINIMAL_JOB).encode(), now=NOW)
    plan = plan_job(
        request, job_id=job_id, now=NOW, pages=PageCount(1), sim=SimulatorConfig(), speed=speed
    )
    await jobs.create_job(
        NewJob(job_id, customer, "alice", plan.to_json(), plan.finish_at), now=NOW
    )


async def test_due_jobs_are_finished_with_the_account_default_push() -> None:
    store = MemoryStore()
    jobs = MemoryJobStore(store)
    await store.put_account(Account("C1", push_url="http://127.0.0.1:9/fax"))
    await _job(jobs, "FJDUE", speed=0)
    await _job(jobs, "FJLATER", speed=1)  # finishes 36 s after NOW
    woken = []
    clock = [NOW + timedelta(seconds=1)]
    simulator = Simulator(
        store, jobs, Settings(), on_push=lambda: woken.append(1), clock=lambda: clock[0]
    )

    assert await simulator.finish_due() == 1

    assert woken == [1]
    done = await jobs.get_job("C1", "FJDUE")
    assert done is not None
    assert done.state is JobState.FINISHED
    assert done.purge_at == clock[0] + timedelta(days=30)
    push = await store.get_push("FJDUE")
    assert push is not None
    assert push.target.url == "http://127.0.0.1:9/fax"
    assert push.state is PushState.PENDING
    assert b"<jobId>FJDUE</jobId>" in push.body
    later = await jobs.get_job("C1", "FJLATER")
    assert later is not None
    assert later.state is JobState.ACTIVE
    clock[0] = NOW + timedelta(seconds=36)
    assert await simulator.finish_due() == 1
    assert await simulator.finish_due() == 0
    assert simulator.finished == 2


async def test_the_run_loop_stops_promptly() -> None:
    store = MemoryStore()
    jobs = MemoryJobStore(store)
    stop = asyncio.Event()
    simulator = Simulator(store, jobs, Settings(poll_interval=30))
    task = asyncio.create_task(simulator.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=2)


async def _until_gone(emulator: Emulator, job_id: str) -> None:
    async with asyncio.timeout(5):
        while True:
            status, _ = await emulator.call("GET", f"/reports/{job_id}")
            if status == 404:
                return
            await asyncio.sleep(0.05)


async def test_reports_are_purged_after_retention_or_at_report_purge_ts(tmp_path: Path) -> None:
    async with running_emulator(
        tmp_path, purge_interval_seconds=0.05, report_retention_days=0.5 / 86400
    ) as emulator:
        soon = datetime.now(UTC) + timedelta(seconds=1.5)
        keep = {
            **MINIMAL_JOB,
            "statusReportOptions": {"reportPurgeTs": soon.isoformat()},
        }
        retained = await emulator.send()
        purged_at_ts = await emulator.send(keep)
        await emulator.finished(retained)
        await emulator.finished(purged_at_ts)

        await _until_gone(emulator, retained)
        # the retention (0.5 s) has passed, but reportPurgeTs wins
        assert (await emulator.call("GET", f"/reports/{purged_at_ts}"))[0] == 200
        await _until_gone(emulator, purged_at_ts)
        assert datetime.now(UTC) >= soon
