"""Contract: finish (group commit with fencing) and the attempt rows it records."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from faxpush.core.errors import InputError
from faxpush.storage.base import (
    RESPONSE_BODY_LIMIT,
    AttemptResult,
    PushState,
    Store,
    Verdict,
)

from .builders import LEASE, SOON, attempt, claim_all, enqueue_many, result


async def test_finish_delivered(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    done_at = SOON + timedelta(seconds=2)

    applied = await store.finish([result(claim, Verdict.DELIVERED)], now=done_at)

    assert applied == {claim.push.delivery_id}
    pushed = await store.get_push(claim.push.delivery_id)
    assert pushed is not None
    assert pushed.state is PushState.DELIVERED
    assert pushed.attempts == 1
    assert (pushed.claim_id, pushed.claimed_until, pushed.last_error) == (None, None, None)
    assert pushed.updated_at == done_at
    assert await store.list_attempts(claim.push.delivery_id) == [
        attempt(claim.push.delivery_id, number=1)
    ]
    assert await claim_all(store, now=done_at + LEASE * 10) == []


async def test_finish_retry_reschedules(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    retry_at = SOON + timedelta(minutes=5)

    applied = await store.finish(
        [result(claim, Verdict.RETRY, next_attempt_at=retry_at, error="HTTP 503")], now=SOON
    )

    assert applied == {claim.push.delivery_id}
    pushed = await store.get_push(claim.push.delivery_id)
    assert pushed is not None
    assert pushed.state is PushState.PENDING
    assert pushed.next_attempt_at == retry_at
    assert pushed.attempts == 1
    assert pushed.last_error == "HTTP 503"
    assert (pushed.claim_id, pushed.claimed_until) == (None, None)
    assert await store.next_due_at() == retry_at
    assert await claim_all(store, now=retry_at - timedelta(microseconds=1)) == []
    (again,) = await claim_all(store, now=retry_at)
    assert again.push.attempts == 1

    await store.finish([result(again, Verdict.DELIVERED)], now=retry_at)
    final = await store.get_push(claim.push.delivery_id)
    assert final is not None
    assert final.attempts == 2
    assert final.last_error is None
    assert [a.number for a in await store.list_attempts(claim.push.delivery_id)] == [1, 2]


async def test_finish_failed(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    await store.finish([result(claim, Verdict.FAILED, error="HTTP 404 Not Found")], now=SOON)

    pushed = await store.get_push(claim.push.delivery_id)
    assert pushed is not None
    assert pushed.state is PushState.FAILED
    assert pushed.last_error == "HTTP 404 Not Found"
    assert pushed.attempts == 1
    assert await store.next_due_at() is None


async def test_stale_claim_records_the_attempt_but_changes_nothing(store: Store) -> None:
    await enqueue_many(store, 1)
    (old,) = await claim_all(store, worker_id="w1")
    (new,) = await claim_all(store, worker_id="w2", now=old.claimed_until)

    stale = result(old, Verdict.FAILED, error="from the presumed-dead worker")
    assert await store.finish([stale], now=new.claimed_until) == set()

    pushed = await store.get_push(old.push.delivery_id)
    assert pushed is not None
    assert pushed.state is PushState.IN_FLIGHT
    assert pushed.claim_id == new.claim_id
    assert pushed.attempts == 0
    assert pushed.last_error is None
    assert len(await store.list_attempts(old.push.delivery_id)) == 1

    assert await store.finish([result(new)], now=new.claimed_until) == {new.push.delivery_id}
    assert len(await store.list_attempts(old.push.delivery_id)) == 2


async def test_finished_claim_cannot_be_finished_twice(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    await store.finish([result(claim, Verdict.FAILED, error="gone")], now=SOON)
    assert await store.finish([result(claim, Verdict.DELIVERED)], now=SOON) == set()
    pushed = await store.get_push(claim.push.delivery_id)
    assert pushed is not None
    assert pushed.state is PushState.FAILED


async def test_finish_applies_a_batch_as_one_group(store: Store) -> None:
    ids = await enqueue_many(store, 120)
    claims = await claim_all(store)
    assert len(claims) == 120
    # a quarter of the claims are taken over before the batch arrives
    stolen = {c.push.delivery_id for c in claims[::4]}
    for claim in claims[::4]:
        await store.release([(claim.push.delivery_id, claim.claim_id)], now=SOON)
    verdicts = [Verdict.DELIVERED, Verdict.FAILED, Verdict.RETRY]
    batch = [
        result(
            claim,
            verdicts[n % 3],
            next_attempt_at=SOON + timedelta(hours=1) if verdicts[n % 3] is Verdict.RETRY else None,
        )
        for n, claim in enumerate(claims[:100])
    ]

    applied = await store.finish(batch, now=SOON)

    assert applied == {c.push.delivery_id for c in claims[:100]} - stolen
    expected = dict.fromkeys(ids, PushState.IN_FLIGHT)
    expected.update(dict.fromkeys(stolen, PushState.PENDING))
    states = {Verdict.DELIVERED: PushState.DELIVERED, Verdict.FAILED: PushState.FAILED}
    for item in batch:
        if item.delivery_id in applied:
            expected[item.delivery_id] = states.get(item.verdict, PushState.PENDING)
    for delivery_id in ids:
        pushed = await store.get_push(delivery_id)
        assert pushed is not None
        assert pushed.state is expected[delivery_id], delivery_id
        assert len(await store.list_attempts(delivery_id)) == (1 if delivery_id in ids[:100] else 0)


async def test_duplicate_results_for_one_claim_apply_once(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    first = result(claim, Verdict.FAILED, error="first")
    second = result(claim, Verdict.DELIVERED)
    assert await store.finish([first, second], now=SOON) == {claim.push.delivery_id}
    pushed = await store.get_push(claim.push.delivery_id)
    assert pushed is not None
    assert (pushed.state, pushed.last_error, pushed.attempts) == (PushState.FAILED, "first", 1)
    assert len(await store.list_attempts(claim.push.delivery_id)) == 2


async def test_result_with_the_current_claim_wins_over_a_stale_one(store: Store) -> None:
    await enqueue_many(store, 1)
    (old,) = await claim_all(store, worker_id="w1")
    (new,) = await claim_all(store, worker_id="w2", now=old.claimed_until)
    batch = [result(old, Verdict.FAILED, error="stale"), result(new, Verdict.DELIVERED)]
    assert await store.finish(batch, now=new.claimed_until) == {new.push.delivery_id}
    pushed = await store.get_push(new.push.delivery_id)
    assert pushed is not None
    assert pushed.state is PushState.DELIVERED


async def test_attempt_rows_keep_headers_and_truncate_the_body(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    delivery_id = claim.push.delivery_id
    body = bytes(range(256)) * 68  # 17 KiB
    headers = {"Content-Type": "text/html; charset=utf-8", "X-Request-Id": "abc", "Ü": "ö"}
    failed = attempt(
        delivery_id, http_status=None, body=body, headers=headers, error_class="timeout"
    )
    retry = AttemptResult(
        delivery_id, claim.claim_id, failed, Verdict.RETRY, next_attempt_at=SOON, error="timeout"
    )
    await store.finish([retry], now=SOON)

    (stored,) = await store.list_attempts(delivery_id)
    assert len(stored.response_body) == RESPONSE_BODY_LIMIT == 16 * 1024
    assert stored.response_body == body[:RESPONSE_BODY_LIMIT]
    assert dict(stored.response_headers) == headers
    assert list(stored.response_headers) == list(headers)
    assert stored == replace(failed, response_body=body[:RESPONSE_BODY_LIMIT])
    assert stored.http_status is None
    assert stored.error_class == "timeout"
    assert stored.auth_steps == ("token request", "bearer")


async def test_attempts_are_listed_oldest_first(store: Store) -> None:
    await enqueue_many(store, 1)
    numbers = []
    now = SOON
    for number in range(1, 4):
        (claim,) = await claim_all(store, now=now)
        await store.finish([result(claim, Verdict.RETRY, next_attempt_at=now)], now=now)
        numbers.append(number)
    (only,) = await claim_all(store, now=now)
    stored = await store.list_attempts(only.push.delivery_id)
    assert [a.number for a in stored] == numbers
    assert await store.list_attempts("unknown") == []


async def test_retry_without_a_time_is_refused_and_nothing_is_recorded(store: Store) -> None:
    await enqueue_many(store, 2)
    a, b = await claim_all(store)
    with pytest.raises(InputError, match="RETRY verdict needs next_attempt_at"):
        await store.finish([result(a), result(b, Verdict.RETRY)], now=SOON)
    assert await store.list_attempts(a.push.delivery_id) == []
    pushed = await store.get_push(a.push.delivery_id)
    assert pushed is not None
    assert pushed.state is PushState.IN_FLIGHT


async def test_attempt_reported_under_another_delivery_is_refused(store: Store) -> None:
    await enqueue_many(store, 2)
    a, b = await claim_all(store)
    mixed = replace(result(a), attempt=attempt(b.push.delivery_id))
    with pytest.raises(InputError, match="reported under"):
        await store.finish([mixed], now=SOON)


async def test_result_for_an_unknown_push_is_skipped(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    ghost = AttemptResult("ghost", "w1:x", attempt("ghost"), Verdict.DELIVERED)
    assert await store.finish([ghost, result(claim)], now=SOON) == {claim.push.delivery_id}
    assert await store.list_attempts("ghost") == []
    assert await store.finish([], now=SOON) == set()


async def test_a_large_batch_records_every_attempt_with_its_own_values(store: Store) -> None:
    # More results than one SQL statement takes: every attempt must keep its own values.
    ids = await enqueue_many(store, 300)
    claims = await claim_all(store)
    batch = [
        replace(
            result(claim),
            attempt=replace(
                attempt(claim.push.delivery_id, body=f"body {n}".encode()),
                http_status=200 + n % 7,
                duration_ms=float(n),
                response_headers={"X-N": str(n)},
            ),
        )
        for n, claim in enumerate(claims)
    ]

    applied = await store.finish(batch, now=SOON)

    assert applied == set(ids)
    for n, delivery_id in enumerate(c.push.delivery_id for c in claims):
        (recorded,) = await store.list_attempts(delivery_id)
        assert recorded.response_body == f"body {n}".encode()
        assert recorded.http_status == 200 + n % 7
        assert recorded.duration_ms == float(n)
        assert dict(recorded.response_headers) == {"X-N": str(n)}
