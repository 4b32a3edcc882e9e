"""Contract: the operator's cancel and redeliver-by-filter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from faxpush.core.errors import InputError
from faxpush.storage.base import PushState, Verdict
from faxpush.storage.operator import OperatorStore, PushFilter

from .builders import LEASE, NOW, SOON, new_push, result

A = "https://a.example.test/hook"
B = "http://b.example.test:8080/hook"


async def test_cancel_only_pending_pushes(operator_store: OperatorStore) -> None:
    await operator_store.enqueue_many([new_push(f"c{n}") for n in range(4)], now=NOW)
    claims = await operator_store.claim(worker_id="w", limit=2, lease=LEASE, now=SOON)
    await operator_store.finish([result(claims[0], Verdict.DELIVERED)], now=SOON)
    in_flight = claims[1].push.delivery_id
    later = SOON + timedelta(seconds=1)

    cancelled = await operator_store.cancel(["c0", "c1", "c2", "c3", "missing", "c3"], now=later)

    assert cancelled == {"c2", "c3"}
    assert in_flight == "c1"
    states = {p.delivery_id: p.state for p in await operator_store.list_pushes()}
    assert states == {
        "c0": PushState.DELIVERED,
        "c1": PushState.IN_FLIGHT,
        "c2": PushState.CANCELLED,
        "c3": PushState.CANCELLED,
    }
    c2 = await operator_store.get_push("c2")
    assert c2 is not None
    assert c2.updated_at == later
    assert await operator_store.claim(worker_id="w", limit=10, lease=LEASE, now=later) == []
    assert await operator_store.cancel(["c2"], now=later) == set()
    assert await operator_store.cancel([], now=later) == set()


async def test_redeliver_matching_requeues_finished_pushes_of_the_filter(
    operator_store: OperatorStore,
) -> None:
    pushes = [new_push(f"r{n}", url=A if n < 4 else B) for n in range(6)]
    await operator_store.enqueue_many(pushes, now=NOW)
    claims = await operator_store.claim(worker_id="w", limit=5, lease=LEASE, now=SOON)
    verdicts = {"r0": Verdict.FAILED, "r1": Verdict.DELIVERED, "r2": Verdict.FAILED}
    verdicts |= {"r3": Verdict.RETRY, "r4": Verdict.FAILED}
    await operator_store.finish(
        [result(c, verdicts[c.push.delivery_id], next_attempt_at=SOON, error="x") for c in claims],
        now=SOON,
    )
    later = SOON + timedelta(minutes=1)
    where = PushFilter(state=PushState.FAILED, receiver="https://a.example.test:443")

    assert await operator_store.redeliver_matching(where, now=later) == 2

    states = {p.delivery_id: p.state for p in await operator_store.list_pushes()}
    assert states["r0"] is states["r2"] is PushState.PENDING
    assert states["r4"] is PushState.FAILED  # another receiver
    assert states["r1"] is PushState.DELIVERED  # another state
    r0 = await operator_store.get_push("r0")
    assert r0 is not None
    assert (r0.attempts, r0.next_attempt_at, r0.updated_at) == (1, later, later)
    # Without a state: every finished push of the filter; pending ones stay as they are.
    assert await operator_store.redeliver_matching(PushFilter(job_id="job-r1"), now=later) == 1
    assert await operator_store.redeliver_matching(PushFilter(job_id="job-r3"), now=later) == 0
    assert await operator_store.redeliver_matching(PushFilter(), now=later) == 1  # r4
    claimed = await operator_store.claim(worker_id="w", limit=10, lease=LEASE, now=later)
    assert {c.push.delivery_id for c in claimed} == {"r0", "r1", "r2", "r3", "r4", "r5"}


async def test_redeliver_matching_since(operator_store: OperatorStore) -> None:
    for n in range(3):
        await operator_store.enqueue_many([new_push(f"s{n}")], now=NOW + timedelta(seconds=n))
    late = NOW + timedelta(minutes=1)
    claims = await operator_store.claim(worker_id="w", limit=3, lease=LEASE, now=late)
    await operator_store.finish([result(c, Verdict.FAILED) for c in claims], now=late)
    since = PushFilter(since=NOW + timedelta(seconds=1))
    assert await operator_store.redeliver_matching(since, now=late) == 2
    s0 = await operator_store.get_push("s0")
    assert s0 is not None
    assert s0.state is PushState.FAILED


@pytest.mark.parametrize("state", [PushState.PENDING, PushState.IN_FLIGHT])
async def test_redeliver_matching_refuses_unfinished_states(
    operator_store: OperatorStore, state: PushState
) -> None:
    with pytest.raises(InputError, match=state.value):
        await operator_store.redeliver_matching(PushFilter(state=state), now=NOW)
