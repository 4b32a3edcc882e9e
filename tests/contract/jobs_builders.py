"""Small builders shared by the job store contract tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from faxpush.core.models import AuthMethod, FaxJobReport, RecipientStatus
from faxpush.core.secrets import Secret
from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush
from faxpush.storage.jobs_base import JobStore, NewJob

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
PUSH_PASSWORD = "job-push-pässword-81c2"  # distinctive, so it can be searched for in files
CUSTOMER = "99999TE"
OTHER = "12345XY"


def job_target() -> PushTarget:
    return PushTarget(
        url="https://push.example.test/fax",
        auth_method=AuthMethod.HTTP_DIGEST,
        principal="hook",
        credentials=Secret(PUSH_PASSWORD),
    )


def new_job(
    job_id: str,
    *,
    customer: str = CUSTOMER,
    finish_at: datetime = T0,
    dedup_key: str | None = None,
    purge_at: datetime | None = None,
    target: PushTarget | None = None,
) -> NewJob:
    return NewJob(
        job_id=job_id,
        customer_number=customer,
        login="alice",
        plan='{"plan": "' + job_id + '"}',
        finish_at=finish_at,
        push_target=target,
        dedup_key=dedup_key,
        purge_at=purge_at,
    )


def final_report(job_id: str, status: str = "OK") -> FaxJobReport:
    return FaxJobReport(
        jobId=job_id,
        faxRecipients=(
            RecipientStatus(
                number="+4989123456",
                numId="FN" + "A" * 20,
                status=status,
                reason="simulated",
                sentTS=T0,
                durationInSecs=26,
                sentToNumber="004989123456",
                remoteCsid="+4989123456",
            ),
        ),
        pages=1,
    )


def push_for(job_id: str) -> NewPush:
    return NewPush(
        delivery_id=job_id,
        job_id=job_id,
        target=job_target(),
        content_type="text/xml; charset=UTF-8",
        body=f"<faxJobReport>{job_id}</faxJobReport>".encode(),
        customer_number=CUSTOMER,
    )


async def finished_jobs(
    jobs: JobStore, count: int, *, customer: str = CUSTOMER, prefix: str = "FJ"
) -> list[str]:
    """Create and finish ``count`` jobs, finished one second apart; return ids in order."""
    ids = [f"{prefix}{customer}{n:05d}" for n in range(count)]
    for n, job_id in enumerate(ids):
        await jobs.create_job(new_job(job_id, customer=customer), now=T0)
        finished = T0 + timedelta(seconds=n)
        assert await jobs.finish_job(
            job_id,
            final_report(job_id),
            None,
            now=finished,
            purge_at=finished + timedelta(days=30),
        )
    return ids
