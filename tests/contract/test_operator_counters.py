"""Contract: the per-receiver counters kept by finish, the backlog, and readiness."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from faxpush.storage.base import AttemptResult, ClaimedPush, Verdict
from faxpush.storage.operator import OperatorStore, ReceiverStats

from .builders import LEASE, NOW, new_push, result
from .conftest import TrackingBackend

A = "https://a.example.test/hook"
B = "http://b.example.test:8080/hook"
A_KEY, B_KEY = "https://a.example.test:443", "http://b.example.test:8080"


def _timed(
    claim: ClaimedPush,
    verdict: Verdict,
    *,
    started_at: datetime,
    duration_ms: float,
    error: str | None = None,
    with_receiver: bool = False,
) -> AttemptResult:
    done = result(claim, verdict, next_attempt_at=started_at, error=error)
    attempt = replace(done.attempt, started_at=started_at, duration_ms=duration_ms)
    receiver = A_KEY if with_receiver else None
    return replace(done, attempt=attempt, receiver=receiver)


async def _stats(store: OperatorStore, now: datetime) -> dict[str, ReceiverStats]:
    return {row.receiver: row for row in await store.receiver_stats(now=now)}


async def test_counters_windows_percentiles_and_failure_runs(
    operator_store: OperatorStore,
) -> None:
    pushes = [new_push(f"a{n}", url=A) for n in range(4)] + [new_push("b0", url=B)]
    await operator_store.enqueue_many(pushes, now=NOW)
    claims = {
        c.push.delivery_id: c
        for c in await operator_store.claim(worker_id="w", limit=4, lease=LEASE, now=NOW)
    }
    assert set(claims) == {"a0", "a1", "a2", "a3"}  # b0 stays pending
    t = NOW + timedelta(seconds=10)
    # In commit order: a success, then two failures (one carrying its receiver); a3 is not
    # finished and stays in flight.
    await operator_store.finish(
        [
            _timed(claims["a0"], Verdict.DELIVERED, started_at=t, duration_ms=3),
            _timed(
                claims["a1"],
                Verdict.RETRY,
                started_at=t + timedelta(seconds=1),
                duration_ms=40,
                error="HTTP 503",
                with_receiver=True,
            ),
            _timed(
                claims["a2"],
                Verdict.FAILED,
                started_at=t + timedelta(seconds=2),
                duration_ms=20_000,
                error="HTTP 500",
            ),
        ],
        now=t + timedelta(seconds=3),
    )

    soon = await _stats(operator_store, NOW + timedelta(minutes=10))
    a = soon[A_KEY]
    assert (a.attempts_hour, a.successes_hour, a.attempts_day, a.successes_day) == (3, 1, 3, 1)
    assert (a.duration_p50_ms, a.duration_p99_ms) == (50.0, 30_000.0)
    assert a.consecutive_failures == 2
    assert (a.last_error, a.last_error_at) == ("HTTP 500", t + timedelta(seconds=2))
    assert a.last_attempt_at == t + timedelta(seconds=2)
    assert (a.pending, a.oldest_pending_at) == (2, NOW)  # a1 retrying, a3 in flight
    b = soon[B_KEY]
    assert (b.attempts_day, b.pending, b.oldest_pending_at) == (0, 1, NOW)
    assert (b.duration_p50_ms, b.consecutive_failures, b.last_attempt_at) == (None, 0, None)
    assert await operator_store.receiver_stats(now=NOW, receiver=B_KEY) == [
        replace(b, receiver=B_KEY)
    ]
    assert await operator_store.receiver_stats(now=NOW, receiver="http://x.test:80") == []

    # Two hours later: a3 (its lease expired) fails, then a1 succeeds and ends the run.
    later = NOW + timedelta(hours=2)
    retried = {
        c.push.delivery_id: c
        for c in await operator_store.claim(
            worker_id="w", limit=10, lease=LEASE, now=later, exclude_receivers=[B_KEY]
        )
    }
    assert set(retried) == {"a1", "a3"}
    (b_claim,) = await operator_store.claim(worker_id="w", limit=10, lease=LEASE, now=later)
    await operator_store.finish(
        [
            _timed(
                b_claim, Verdict.FAILED, started_at=later, duration_ms=7, error="connect refused"
            ),
            _timed(retried["a3"], Verdict.FAILED, started_at=later, duration_ms=7, error="timeout"),
            _timed(
                retried["a1"],
                Verdict.DELIVERED,
                started_at=later + timedelta(seconds=1),
                duration_ms=7,
            ),
        ],
        now=later,
    )
    after = await _stats(operator_store, later + timedelta(minutes=1))
    a = after[A_KEY]
    assert (a.attempts_hour, a.successes_hour, a.attempts_day, a.successes_day) == (2, 1, 5, 2)
    assert (a.duration_p50_ms, a.duration_p99_ms) == (10.0, 10.0)
    assert a.consecutive_failures == 0
    assert (a.last_error, a.last_error_at) == ("timeout", later)
    assert a.last_attempt_at == later + timedelta(seconds=1)
    assert (a.pending, a.oldest_pending_at) == (0, None)
    b = after[B_KEY]
    assert (b.attempts_hour, b.successes_hour, b.consecutive_failures) == (1, 0, 1)
    assert (b.last_error, b.last_error_at, b.pending) == ("connect refused", later, 0)

    # Two days on, the windows are empty; the health rows stay.
    quiet = await _stats(operator_store, later + timedelta(days=2))
    assert (quiet[A_KEY].attempts_day, quiet[A_KEY].duration_p50_ms) == (0, None)
    assert quiet[B_KEY].consecutive_failures == 1
    assert quiet[B_KEY].last_attempt_at == later
    assert quiet[A_KEY].consecutive_failures == 0


async def test_failures_across_batches_add_up(operator_store: OperatorStore) -> None:
    await operator_store.enqueue_many([new_push(f"f{n}", url=B) for n in range(3)], now=NOW)
    for n in range(3):
        now = NOW + timedelta(minutes=n)
        (claim,) = await operator_store.claim(worker_id="w", limit=1, lease=LEASE, now=now)
        await operator_store.finish(
            [_timed(claim, Verdict.FAILED, started_at=now, duration_ms=1, error=f"e{n}")],
            now=now,
        )
    (row,) = await operator_store.receiver_stats(now=NOW + timedelta(minutes=3))
    assert (row.consecutive_failures, row.last_error, row.attempts_hour) == (3, "e2", 3)
    assert row.duration_p99_ms == 5.0


async def test_attempts_whose_claim_was_lost_are_counted(operator_store: OperatorStore) -> None:
    await operator_store.enqueue_many([new_push("l0", url=A)], now=NOW)
    (claim,) = await operator_store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW)
    stale = _timed(claim, Verdict.DELIVERED, started_at=NOW, duration_ms=1)
    assert await operator_store.finish([replace(stale, claim_id="w:stale")], now=NOW) == set()
    (row,) = await operator_store.receiver_stats(now=NOW)
    assert (row.attempts_hour, row.successes_hour, row.pending) == (1, 1, 1)


async def test_receivers_with_pushes_but_no_attempts_are_listed(
    operator_store: OperatorStore,
) -> None:
    await operator_store.enqueue_many([new_push("x", url=A), new_push("y", url=B)], now=NOW)
    await operator_store.cancel(["x"], now=NOW)
    rows = await operator_store.receiver_stats(now=NOW)
    assert [(r.receiver, r.pending, r.attempts_day) for r in rows] == [
        (B_KEY, 1, 0),
        (A_KEY, 0, 0),
    ]


async def test_readiness(backend: TrackingBackend, operator_store: OperatorStore) -> None:
    assert await operator_store.readiness() is None
    await operator_store.close()
    reason = await operator_store.readiness()
    assert reason is not None
    assert "\n" not in reason
