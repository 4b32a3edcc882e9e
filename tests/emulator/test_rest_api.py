"""The REST v1 operations through a real server: bodies, status codes and error cases."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faxpush.core.errors import StorageError
from faxpush.emulator.plan import JobPlan
from faxpush.storage.jobs_base import JobState, NewJob

from .harness import MINIMAL_JOB, Emulator, add_customer, running_emulator

JOB_ID = re.compile(r"FJ[A-Z0-9]{20}")
OTHER_CUSTOMER = "12345XY"
OTHER_LOGIN, OTHER_PASSWORD = "bob", "b0b-pw"


async def test_send_then_read_the_report(emulator: Emulator) -> None:
    job_id = await emulator.send()
    assert JOB_ID.fullmatch(job_id)
    await emulator.finished(job_id)

    status, report = await emulator.call("GET", f"/reports/{job_id}")

    assert status == 200
    assert report["jobId"] == job_id
    assert report["pages"] == 1
    assert report["reference"] is None
    (recipient,) = report["recipientStatus"]
    assert recipient == {
        "number": "+12015551000",
        "properties": None,
        "status": "OK",
        "reason": "simulated",
        "sentTs": recipient["sentTs"],
        "durationInSecs": 26,
        "sentToNumber": "0012015551000",
        "remoteCsid": "+12015551000",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", recipient["sentTs"])


async def test_a_job_in_progress_shows_pending_and_is_not_listed(tmp_path: Path) -> None:
    async with running_emulator(tmp_path, sim_speed=1) as emulator:
        job_id = await emulator.send()

        status, report = await emulator.call("GET", f"/reports/{job_id}")
        assert status == 200
        (recipient,) = report["recipientStatus"]
        assert recipient["status"] == "PENDING"
        assert recipient["sentTs"] is None
        assert (await emulator.call("GET", "/reports"))[1] == {"reports": []}
        status, deleted = await emulator.call("DELETE", f"/reports/{job_id}")
        assert (status, deleted) == (
            404,
            {"jobId": job_id, "deleted": False, "reason": "NOT_FOUND"},
        )
        assert await emulator.services.jobs.get_job(emulator.customer, job_id) is not None


async def test_a_customer_sees_only_its_own_jobs(emulator: Emulator) -> None:
    other = await add_customer(emulator, OTHER_CUSTOMER, OTHER_LOGIN, OTHER_PASSWORD)
    job_id = await emulator.send()
    await emulator.finished(job_id)

    status, body = await emulator.call(
        "GET", f"/reports/{job_id}", auth=other, customer=OTHER_CUSTOMER
    )
    assert status == 404
    assert body["error"] == "NOT_FOUND"
    assert (await emulator.call("GET", "/reports", auth=other, customer=OTHER_CUSTOMER))[1] == {
        "reports": []
    }
    bulk = {"action": "delete", "jobIds": [job_id]}
    status, body = await emulator.call(
        "POST", "/reports", body=bulk, auth=other, customer=OTHER_CUSTOMER
    )
    assert body == {"reports": [{"jobId": job_id, "deleted": False, "reason": "NOT_FOUND"}]}
    assert (await emulator.call("GET", f"/reports/{job_id}"))[0] == 200


async def test_delete_one_report(emulator: Emulator) -> None:
    job_id = await emulator.send()
    await emulator.finished(job_id)

    assert await emulator.call("DELETE", f"/reports/{job_id}") == (
        200,
        {"jobId": job_id, "deleted": True},
    )
    assert (await emulator.call("GET", f"/reports/{job_id}"))[0] == 404


async def _seed_finished(emulator: Emulator, count: int) -> list[str]:
    """Finished jobs straight in the store (fast), finished one second apart."""
    jobs = emulator.services.jobs
    job_id = await emulator.send()
    template = await emulator.finished(job_id)
    assert template.report is not None
    await jobs.delete_reports(emulator.customer, [job_id])
    ids = [f"FJSEED{n:016d}" for n in range(count)]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for n, seeded in enumerate(ids):
        new = NewJob(seeded, emulator.customer, "demo", template.plan, start)
        await jobs.create_job(new, now=start)
        report = template.report.model_copy(update={"jobId": seeded})
        finished = start + timedelta(seconds=n)
        await jobs.finish_job(
            seeded, report, None, now=finished, purge_at=finished + timedelta(days=3650)
        )
    return ids


async def test_all_reports_are_the_oldest_thousand(tmp_path: Path) -> None:
    async with running_emulator(tmp_path, database_url="memory://") as emulator:
        ids = await _seed_finished(emulator, 1001)

        status, body = await emulator.call("GET", "/reports")

        assert status == 200
        assert [report["jobId"] for report in body["reports"]] == ids[:1000]
        status, body = await emulator.call("DELETE", "/reports")
        assert status == 200
        assert body["reports"] == [{"jobId": i, "deleted": True} for i in ids[:1000]]
        status, body = await emulator.call("GET", "/reports")
        assert [report["jobId"] for report in body["reports"]] == ids[1000:]


async def test_bulk_get_and_delete(emulator: Emulator) -> None:
    first, second = await emulator.send(), await emulator.send()
    for job_id in (first, second):
        await emulator.finished(job_id)
    unknown = "FJUNKNOWN0000000000000"

    status, body = await emulator.call(
        "POST", "/reports", body={"action": "get", "jobIds": [second, unknown, first]}
    )
    assert status == 200
    assert [report["jobId"] for report in body["reports"]] == [second, first]

    status, body = await emulator.call(
        "POST", "/reports", body={"action": "Delete", "jobIds": [first, unknown, first]}
    )
    assert status == 200
    assert body == {
        "reports": [
            {"jobId": first, "deleted": True},
            {"jobId": unknown, "deleted": False, "reason": "NOT_FOUND"},
        ]
    }
    assert (await emulator.call("GET", f"/reports/{first}"))[0] == 404
    assert (await emulator.call("GET", f"/reports/{second}"))[0] == 200


async def test_a_duplicate_job_is_409_within_the_window(emulator: Emulator) -> None:
    job = {**MINIMAL_JOB, "reference": {"customerDefinedId": "invoice-42"}}
    first = await emulator.send(job)

    status, body = await emulator.call("POST", body=job)

    assert status == 409
    assert body["error"] == "CONFLICT"
    assert body["jobId"] == first
    changed = {**job, "recipients": [{"number": "+12015551001"}]}
    assert (await emulator.call("POST", body=changed))[0] == 201
    other_id = {**MINIMAL_JOB, "reference": {"customerDefinedId": "invoice-43"}}
    assert (await emulator.call("POST", body=other_id))[0] == 201
    assert (await emulator.call("POST", body=MINIMAL_JOB))[0] == 201
    assert (await emulator.call("POST", body=MINIMAL_JOB))[0] == 201
    counts = await emulator.services.jobs.count_jobs()
    assert counts[JobState.ACTIVE] + counts[JobState.FINISHED] == 5


async def test_duplicate_detection_can_be_turned_off(tmp_path: Path) -> None:
    async with running_emulator(tmp_path, duplicate_window_seconds=0) as emulator:
        job = {**MINIMAL_JOB, "reference": {"customerDefinedId": "invoice-42"}}
        assert await emulator.send(job) != await emulator.send(job)


async def test_a_database_failure_is_503(emulator: Emulator) -> None:
    await emulator.services.store.close()

    status, body = await emulator.call("GET", "/reports")

    assert status == 503
    assert body["error"] == "SERVICE_UNAVAILABLE"


async def test_an_unexpected_failure_is_500(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(emulator.services.jobs, "list_finished", broken)
    status, body = await emulator.call("GET", "/reports")

    assert status == 500
    assert body["error"] == "INTERNAL_SERVER_ERROR"
    assert "disk on fire" not in str(body)


async def test_a_stored_plan_that_cannot_be_read_is_503(emulator: Emulator) -> None:
    jobs = emulator.services.jobs
    new = NewJob(
        "FJBROKEN00000000000000",
        emulator.customer,
        "demo",
        "{not json",
        datetime.now(UTC) + timedelta(days=1),
    )
    await jobs.create_job(new, now=datetime.now(UTC))

    status, _ = await emulator.call("GET", "/reports/FJBROKEN00000000000000")

    assert status == 503
    with pytest.raises(StorageError):
        JobPlan.from_json("{not json")
