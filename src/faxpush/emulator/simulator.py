"""The simulator's background work: finish jobs when their time comes, purge old reports.

Every job's outcome was planned when it was accepted (:mod:`faxpush.emulator.plan`); what
remains is to *finish* it once every recipient is final: store the final report and enqueue
its push in one transaction (:meth:`JobStore.finish_job`), then wake the dispatcher. Due jobs
are found in the database, not in memory, so a restart after a crash picks up every job that
was in flight; a job finished twice (two processes) is finished once, the other call is a
no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta

from faxpush.core.clock import Clock, utcnow
from faxpush.core.errors import FaxpushError
from faxpush.core.models import FaxJobReport
from faxpush.core.settings import Settings
from faxpush.core.targets import Account
from faxpush.emulator.offload import HeavyWork
from faxpush.emulator.plan import JobPlan
from faxpush.emulator.pushes import build_push
from faxpush.storage.base import Store
from faxpush.storage.jobs_base import FinishedJob, JobRecord, JobStore

logger = logging.getLogger("faxpush.emulator")

FINISH_BATCH = 200
INLINE_PLAN_CHARS = 64 * 1024
"""Larger plans (about 250 recipients and more) are read and rendered in a worker thread:
finishing a job of 3,000 recipients is about 60 ms of CPU."""
LISTED_RECIPIENTS = 10  # a finished job's log line lists this many statuses, else counts


def _nothing() -> None:
    return None


def _statuses(report: FaxJobReport) -> str:
    recipients = report.faxRecipients
    if len(recipients) <= LISTED_RECIPIENTS:
        return ", ".join(f"{r.number} {r.status}" for r in recipients)
    counts = Counter(r.status for r in recipients).most_common()
    return f"{len(recipients)} recipients: " + ", ".join(f"{n} {s}" for s, n in counts)


@dataclass(slots=True, eq=False)
class Simulator:
    """Finishes due jobs and purges expired reports until stopped."""

    store: Store
    jobs: JobStore
    settings: Settings
    _: KW_ONLY
    on_push: Callable[[], None] = _nothing
    clock: Clock = utcnow
    heavy: HeavyWork = field(default_factory=HeavyWork)
    finished: int = field(default=0, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    @property
    def _retention(self) -> timedelta:
        return timedelta(days=self.settings.report_retention_days)

    def notify(self) -> None:
        """A job was accepted: look at the schedule again."""
        self._wake.set()

    def purge_time(self, job: JobRecord, finished_at: datetime) -> datetime:
        """When a report finished at ``finished_at`` is deleted: the job's reportPurgeTs,
        else after the retention period."""
        return job.purge_at or finished_at + self._retention

    async def finish_due(self) -> int:
        """Finish every job whose recipients are all final; return how many were finished.

        Due jobs are finished in batches, each batch one transaction."""
        total = 0
        accounts: dict[str, Account | None] = {}
        for _ in range(10_000):  # bounded: each round finishes up to a batch
            due = await self.jobs.due_jobs(now=self.clock(), limit=FINISH_BATCH)
            if not due:
                break
            now = self.clock()
            finished = []
            for job in due:
                if job.customer_number not in accounts:
                    accounts[job.customer_number] = await self.store.get_account(
                        job.customer_number
                    )
                account = accounts[job.customer_number]
                if len(job.plan) > INLINE_PLAN_CHARS:
                    item = await self.heavy.run(self._finished, job, account, now)
                else:
                    item = self._finished(job, account, now)
                finished.append(item)
            applied = await self.jobs.finish_jobs(finished, now=now)
            for item in finished:
                if item.job_id in applied:
                    logger.info("job %s finished: %s", item.job_id, _statuses(item.report))
            if any(item.push is not None and item.job_id in applied for item in finished):
                self.on_push()
            total += len(applied)
            if len(due) < FINISH_BATCH:
                break
        self.finished += total
        return total

    def _finished(self, job: JobRecord, account: Account | None, now: datetime) -> FinishedJob:
        report = JobPlan.from_json(job.plan).report
        push = build_push(job, report, account)
        return FinishedJob(job.job_id, report, push, self.purge_time(job, now))

    async def purge(self) -> int:
        """Delete reports whose retention has passed; return how many."""
        purged = await self.jobs.purge_reports(now=self.clock())
        if purged:
            logger.info("purged %d expired report(s)", purged)
        return purged

    async def run(self, stop: asyncio.Event) -> None:
        """Finish jobs as they fall due and purge reports periodically, until ``stop``."""
        poll = self.settings.poll_interval
        next_purge = self.clock()
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.finish_due()
                if self.clock() >= next_purge:
                    await self.purge()
                    next_purge = self.clock() + timedelta(
                        seconds=self.settings.purge_interval_seconds
                    )
                wait = await self._idle_seconds(poll)
            except FaxpushError as exc:
                logger.warning("simulator step failed, will retry: %s", exc)
                wait = poll
            await self._sleep(stop, wait)

    async def _idle_seconds(self, poll: float) -> float:
        upcoming = await self.jobs.next_finish_at()
        if upcoming is None:
            return poll
        return min(max((upcoming - self.clock()).total_seconds(), 0.0), poll)

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
