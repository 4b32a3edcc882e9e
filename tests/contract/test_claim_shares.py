"""Contract: a claim gives each receiver at most its share, so one backlog cannot fill it."""

from __future__ import annotations

from datetime import timedelta

from faxpush.storage.base import Store, receiver_key

from .builders import LEASE, NOW, SOON, claim_all, new_push

BLOCKED = "https://blocked.example.test/hook"
HEALTHY = "https://healthy.example.test/hook"
OTHER = "https://other.example.test/hook"


async def _enqueue(store: Store, url: str, prefix: str, count: int, start: int) -> list[str]:
    ids = [f"{prefix}{n:03d}" for n in range(count)]
    for n, delivery_id in enumerate(ids):
        await store.enqueue(
            new_push(delivery_id, url=url), now=NOW + timedelta(microseconds=start + n)
        )
    return ids


async def test_a_receiver_gets_at_most_its_share_of_a_claim(store: Store) -> None:
    blocked = await _enqueue(store, BLOCKED, "b", 20, 0)
    healthy = await _enqueue(store, HEALTHY, "h", 5, 100)
    first = await store.claim(worker_id="w1", limit=10, lease=LEASE, now=SOON, receiver_limit=4)
    # the oldest 10 due are all the blocked receiver's: it gets its 4, the rest waits
    assert [c.push.delivery_id for c in first] == blocked[:4]
    again = await store.claim(
        worker_id="w1",
        limit=10,
        lease=LEASE,
        now=SOON,
        exclude_receivers={receiver_key(BLOCKED)},
        receiver_limit=4,
    )
    assert [c.push.delivery_id for c in again] == healthy[:4]
    rest = await claim_all(store, worker_id="w2")
    assert [c.push.delivery_id for c in rest] == [*blocked[4:], healthy[4]]


async def test_pushes_already_held_count_against_the_share(store: Store) -> None:
    blocked = await _enqueue(store, BLOCKED, "b", 6, 0)
    healthy = await _enqueue(store, HEALTHY, "h", 6, 10)
    other = await _enqueue(store, OTHER, "o", 2, 20)
    got = await store.claim(
        worker_id="w1",
        limit=100,
        lease=LEASE,
        now=SOON,
        receiver_limit=3,
        receiver_held={receiver_key(BLOCKED): 3, receiver_key(HEALTHY): 1},
    )
    assert [c.push.delivery_id for c in got] == [*healthy[:2], *other]
    assert not set(blocked) & {c.push.delivery_id for c in got}


async def test_the_share_applies_to_expired_leases_as_well(store: Store) -> None:
    blocked = await _enqueue(store, BLOCKED, "b", 5, 0)
    taken = await claim_all(store, worker_id="dead")
    expired = taken[0].claimed_until
    got = await store.claim(worker_id="w1", limit=10, lease=LEASE, now=expired, receiver_limit=2)
    assert [c.push.delivery_id for c in got] == blocked[:2]
    assert len(await claim_all(store, worker_id="w2", now=expired)) == 3


async def test_without_a_share_a_receiver_may_take_the_whole_claim(store: Store) -> None:
    blocked = await _enqueue(store, BLOCKED, "b", 8, 0)
    got = await store.claim(worker_id="w1", limit=5, lease=LEASE, now=SOON)
    assert [c.push.delivery_id for c in got] == blocked[:5]


async def test_a_share_larger_than_the_claim_changes_nothing(store: Store) -> None:
    blocked = await _enqueue(store, BLOCKED, "b", 8, 0)
    got = await store.claim(
        worker_id="w1",
        limit=5,
        lease=LEASE,
        now=SOON,
        receiver_limit=7,
        receiver_held={receiver_key(BLOCKED): 2},
    )
    assert [c.push.delivery_id for c in got] == blocked[:5]
