"""Contract: every receiver's attempts over time, from the counters finish keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from faxpush.core.errors import InputError
from faxpush.storage.base import AttemptResult, ClaimedPush, Verdict
from faxpush.storage.operator import OperatorStore

from .builders import LEASE, NOW, new_push, result

A = "https://a.example.test/hook"
B = "http://b.example.test:8080/hook"
BUCKET = timedelta(minutes=5)


def _at(claim: ClaimedPush, verdict: Verdict, started_at: datetime) -> AttemptResult:
    done = result(claim, verdict, next_attempt_at=started_at, error="HTTP 500")
    return replace(done, attempt=replace(done.attempt, started_at=started_at))


async def test_attempts_are_summed_per_bucket_over_receivers(
    operator_store: OperatorStore,
) -> None:
    names = ["old", "a0", "b0", "a1", "a2", "b1"]
    pushes = [new_push(name, url=B if name.startswith("b") else A) for name in names]
    await operator_store.enqueue_many(pushes, now=NOW - 3 * BUCKET)
    claims = {
        c.push.delivery_id: c
        for c in await operator_store.claim(
            worker_id="w", limit=10, lease=LEASE, now=NOW - 3 * BUCKET
        )
    }
    assert set(claims) == set(names)
    first, second = NOW + timedelta(seconds=10), NOW + BUCKET + timedelta(seconds=20)
    await operator_store.finish(
        [
            _at(claims["old"], Verdict.FAILED, NOW - 2 * BUCKET),
            _at(claims["a0"], Verdict.DELIVERED, first),
            _at(claims["b0"], Verdict.FAILED, first + timedelta(seconds=1)),
            _at(claims["a1"], Verdict.DELIVERED, second),
            _at(claims["a2"], Verdict.FAILED, second),
            _at(claims["b1"], Verdict.DELIVERED, second + timedelta(seconds=1)),
        ],
        now=second,
    )
    now = NOW + BUCKET + timedelta(minutes=2)

    recent = await operator_store.attempt_series(since=NOW, now=now)
    assert recent == [(NOW, 2, 1), (NOW + BUCKET, 3, 2)]

    # `since` inside a bucket takes that whole bucket; an empty bucket may be left out.
    inside = NOW - 2 * BUCKET + timedelta(seconds=1)
    everything = await operator_store.attempt_series(since=inside, now=now)
    assert [point for point in everything if point[1]] == [
        (NOW - 2 * BUCKET, 1, 0),
        (NOW, 2, 1),
        (NOW + BUCKET, 3, 2),
    ]
    assert await operator_store.attempt_series(since=NOW, now=NOW) == [(NOW, 2, 1)]
    assert await operator_store.attempt_series(since=now + BUCKET, now=now) == []


async def test_attempt_series_needs_aware_times(operator_store: OperatorStore) -> None:
    with pytest.raises(InputError, match="time zone"):
        await operator_store.attempt_series(since=NOW.replace(tzinfo=None), now=NOW)
