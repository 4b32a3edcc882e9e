"""Contract: listing, counting and operator redelivery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from faxpush.core.errors import InputError
from faxpush.storage.base import PushState, Store, Verdict

from .builders import NOW, SOON, claim_all, enqueue_many, new_push, result


async def _finish_all(store: Store, verdict: Verdict, *, count: int) -> list[str]:
    """Claim ``count`` due pushes and finish them with ``verdict``; return their ids."""
    claims = await store.claim(worker_id="w", limit=count, lease=timedelta(minutes=1), now=SOON)
    await store.finish([result(c, verdict, error=verdict.value) for c in claims], now=SOON)
    return [c.push.delivery_id for c in claims]


async def test_list_pushes_newest_first(store: Store) -> None:
    ids = await enqueue_many(store, 5)
    listed = await store.list_pushes()
    assert [p.delivery_id for p in listed] == ids[::-1]


async def test_list_pushes_breaks_creation_ties_by_enqueue_order(store: Store) -> None:
    for delivery_id in ("x", "y", "z"):
        await store.enqueue(new_push(delivery_id), now=NOW)
    assert [p.delivery_id for p in await store.list_pushes()] == ["z", "y", "x"]


async def test_list_pushes_pages(store: Store) -> None:
    ids = await enqueue_many(store, 7)
    newest_first = ids[::-1]
    assert [p.delivery_id for p in await store.list_pushes(limit=3)] == newest_first[:3]
    page = await store.list_pushes(limit=3, offset=3)
    assert [p.delivery_id for p in page] == newest_first[3:6]
    assert [p.delivery_id for p in await store.list_pushes(limit=3, offset=6)] == newest_first[6:]
    assert await store.list_pushes(limit=3, offset=7) == []
    assert await store.list_pushes(limit=0) == []


async def test_list_pushes_filters_by_state(store: Store) -> None:
    ids = await enqueue_many(store, 6)
    delivered = await _finish_all(store, Verdict.DELIVERED, count=2)
    failed = await _finish_all(store, Verdict.FAILED, count=1)
    assert delivered == ids[:2]
    assert failed == ids[2:3]

    by_state = {
        state: [p.delivery_id for p in await store.list_pushes(state=state)] for state in PushState
    }
    assert by_state == {
        PushState.PENDING: ids[:2:-1],
        PushState.IN_FLIGHT: [],
        PushState.DELIVERED: delivered[::-1],
        PushState.FAILED: failed,
        PushState.CANCELLED: [],
    }
    paged = await store.list_pushes(state=PushState.PENDING, limit=1, offset=1)
    assert [p.delivery_id for p in paged] == [ids[4]]


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (10, -1)])
async def test_list_pushes_refuses_negative_paging(store: Store, limit: int, offset: int) -> None:
    with pytest.raises(InputError, match="must not be negative"):
        await store.list_pushes(limit=limit, offset=offset)


async def test_count_by_state(store: Store) -> None:
    assert await store.count_by_state() == dict.fromkeys(PushState, 0)
    await enqueue_many(store, 6)
    await _finish_all(store, Verdict.DELIVERED, count=3)
    await _finish_all(store, Verdict.FAILED, count=1)
    await store.claim(worker_id="w", limit=1, lease=timedelta(minutes=1), now=SOON)
    assert await store.count_by_state() == {
        PushState.PENDING: 1,
        PushState.IN_FLIGHT: 1,
        PushState.DELIVERED: 3,
        PushState.FAILED: 1,
        PushState.CANCELLED: 0,
    }


async def test_redeliver_by_id(store: Store) -> None:
    ids = await enqueue_many(store, 5)
    delivered = await _finish_all(store, Verdict.DELIVERED, count=1)
    failed = await _finish_all(store, Verdict.FAILED, count=2)
    (in_flight,) = await store.claim(worker_id="w", limit=1, lease=timedelta(hours=2), now=SOON)
    pending = ids[4]
    later = SOON + timedelta(hours=1)

    count = await store.redeliver(
        delivery_ids=[*delivered, failed[0], in_flight.push.delivery_id, pending, "unknown"],
        now=later,
    )

    assert count == 2
    for delivery_id in (*delivered, failed[0]):
        pushed = await store.get_push(delivery_id)
        assert pushed is not None
        assert pushed.state is PushState.PENDING
        assert pushed.next_attempt_at == later
        assert pushed.attempts == 1
    still_failed = await store.get_push(failed[1])
    held = await store.get_push(in_flight.push.delivery_id)
    assert still_failed is not None
    assert held is not None
    assert still_failed.state is PushState.FAILED
    assert held.claim_id == in_flight.claim_id
    claimed = await claim_all(store, now=later)
    assert {c.push.delivery_id for c in claimed} == {*delivered, failed[0], pending}


async def test_redeliver_failed_since(store: Store) -> None:
    await enqueue_many(store, 4)
    early = await _finish_all(store, Verdict.FAILED, count=1)
    (claim,) = await store.claim(worker_id="w", limit=1, lease=timedelta(hours=1), now=SOON)
    cutoff = SOON + timedelta(minutes=10)
    await store.finish([result(claim, Verdict.FAILED, error="late")], now=cutoff)
    (done,) = await store.claim(worker_id="w", limit=1, lease=timedelta(hours=1), now=cutoff)
    await store.finish([result(done, Verdict.DELIVERED)], now=cutoff)

    count = await store.redeliver(failed_since=cutoff, now=cutoff + timedelta(seconds=1))

    assert count == 1
    states = {p.delivery_id: p.state for p in await store.list_pushes()}
    assert states[claim.push.delivery_id] is PushState.PENDING
    assert states[early[0]] is PushState.FAILED
    assert states[done.push.delivery_id] is PushState.DELIVERED
    both = await store.redeliver(
        delivery_ids=[done.push.delivery_id], failed_since=SOON, now=cutoff
    )
    assert both == 2  # the delivered one by id, the early failure by time
    assert await store.redeliver(now=cutoff) == 0
