"""The handler-task rules every inbox shares (receiver.inbox.tasks), without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from faxpush.receiver.inbox import ClaimedTask, HandlerTask, TaskState
from faxpush.receiver.inbox.tasks import Claim, Finish, due_at, retried, task_filter

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def task(key: str = "k", *, state: TaskState = TaskState.PENDING, **changes: Any) -> HandlerTask:
    return replace(HandlerTask(key, "h", state, 0, T0), **changes)


def claim(**changes: Any) -> Claim:
    started = Claim.start(now=T0, lease=LEASE, limit=10)
    assert started is not None
    return replace(started, **changes)


def test_a_claim_of_no_tasks_is_no_claim() -> None:
    assert Claim.start(now=T0, lease=LEASE, limit=0) is None
    assert Claim.start(now=T0, lease=LEASE, limit=-1) is None


def test_each_claim_has_a_fresh_fencing_token_and_one_lease_end() -> None:
    first, second = claim(), claim()
    assert first.claim_id != second.claim_id
    assert first.claimed_until == T0 + LEASE


def test_a_claim_takes_due_pending_tasks_and_expired_leases_only() -> None:
    taking = claim()
    assert taking.takes(task())
    assert not taking.takes(task(next_attempt_at=T0 + timedelta(seconds=1)))
    assert taking.takes(task(state=TaskState.RUNNING, claimed_until=T0))
    assert not taking.takes(task(state=TaskState.RUNNING, claimed_until=T0 + LEASE))
    assert not taking.takes(task(state=TaskState.RUNNING))  # no lease recorded
    assert not taking.takes(task(state=TaskState.DONE))
    assert not taking.takes(task(state=TaskState.FAILED))
    assert not claim(key="other").takes(task())


def test_a_lease_counts_an_attempt_and_the_claimed_come_earliest_due_first() -> None:
    taking = claim()
    leased = taking.lease(task(attempts=2))
    assert (leased.state, leased.attempts) == (TaskState.RUNNING, 3)
    assert (leased.claim_id, leased.claimed_until) == (taking.claim_id, T0 + LEASE)
    early = replace(leased, key="early", next_attempt_at=T0 - timedelta(minutes=1))
    claimed = taking.claimed([leased, early])
    assert [c.task.key for c in claimed] == ["early", "k"]
    assert {c.claim_id for c in claimed} == {taking.claim_id}


def test_a_claim_binds_its_times_as_the_backend_stores_them() -> None:
    params = claim(key="k").params(lambda when: when.isoformat())
    assert params == {
        "claim_id": params["claim_id"],
        "claimed_until": (T0 + LEASE).isoformat(),
        "now": T0.isoformat(),
        "key": "k",
        "limit": 10,
    }


def test_a_finish_decides_done_retry_or_failed() -> None:
    taking = claim()
    claimed = ClaimedTask(taking.lease(task()), taking.claim_id)
    later = T0 + timedelta(minutes=1)
    done = Finish.of(claimed, now=later)
    retry = Finish.of(claimed, now=later, error="boom", retry_at=later + LEASE)
    failed = Finish.of(claimed, now=later, error="boom")
    assert (done.state, done.done_at, done.retry_at, done.error) == (
        TaskState.DONE,
        later,
        None,
        None,
    )
    assert (retry.state, retry.done_at, retry.retry_at) == (TaskState.PENDING, None, later + LEASE)
    assert (failed.state, failed.done_at, failed.retry_at) == (TaskState.FAILED, None, None)
    # A retry time given with a success is not a retry.
    assert Finish.of(claimed, now=later, retry_at=later + LEASE).retry_at is None


def test_a_finish_applies_only_under_its_claim_and_releases_the_lease() -> None:
    taking = claim()
    leased = taking.lease(task())
    claimed = ClaimedTask(leased, taking.claim_id)
    later = T0 + timedelta(minutes=1)
    retry = Finish.of(claimed, now=later, error="boom", retry_at=later + LEASE)
    assert retry.applies_to(leased)
    assert not retry.applies_to(None)
    assert not retry.applies_to(claim().lease(task()))  # leased again by a newer claim
    after = retry.apply(leased)
    assert (after.state, after.next_attempt_at, after.last_error) == (
        TaskState.PENDING,
        later + LEASE,
        "boom",
    )
    assert (after.claim_id, after.claimed_until, after.attempts) == (None, None, 1)
    done = Finish.of(claimed, now=later).apply(leased)
    assert (done.state, done.next_attempt_at, done.done_at) == (TaskState.DONE, T0, later)
    assert Finish.of(claimed, now=later).params(str)["done_at"] == str(later)


def test_due_times_retries_and_task_filters() -> None:
    assert due_at(task()) == T0
    assert due_at(task(state=TaskState.RUNNING, claimed_until=T0 + LEASE)) == T0 + LEASE
    assert due_at(task(state=TaskState.DONE)) is None
    assert due_at(task(state=TaskState.FAILED)) is None
    again = retried(task(state=TaskState.FAILED, last_error="boom"), now=T0 + LEASE)
    assert (again.state, again.next_attempt_at, again.last_error) == (
        TaskState.PENDING,
        T0 + LEASE,
        "boom",
    )
    assert task_filter(key=None, state=TaskState.FAILED, limit=-5) == {
        "key": None,
        "state": "failed",
        "limit": 0,
    }
