"""Contract: concurrent claims never overlap, within one handle and across handles."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from faxpush.core.errors import StorageError
from faxpush.storage.base import ClaimedPush, PushState, Store, Verdict
from faxpush.storage.cipher import SecretCipher

from .builders import LEASE, NOW, SOON, enqueue_many, new_push, result
from .conftest import TrackingBackend


def _assert_disjoint(batches: list[list[ClaimedPush]], expected: int) -> None:
    taken = Counter(c.push.delivery_id for batch in batches for c in batch)
    duplicates = [delivery_id for delivery_id, n in taken.items() if n > 1]
    assert duplicates == []
    assert len(taken) == expected


async def test_concurrent_claims_on_one_handle_never_overlap(store: Store) -> None:
    await enqueue_many(store, 200)
    batches = await asyncio.gather(
        *(store.claim(worker_id=f"w{n}", limit=7, lease=LEASE, now=SOON) for n in range(40))
    )
    _assert_disjoint(list(batches), expected=200)


async def test_concurrent_claims_from_separate_handles_never_overlap(
    backend: TrackingBackend, cipher: SecretCipher
) -> None:
    handles = [await backend.open(cipher) for _ in range(3)]
    await enqueue_many(handles[0], 300)

    async def worker(store: Store, name: str) -> list[ClaimedPush]:
        taken: list[ClaimedPush] = []
        for _ in range(50):  # bounded: 300 pushes need at most 300 / 5 rounds in total
            batch = await store.claim(worker_id=name, limit=5, lease=LEASE, now=SOON)
            if not batch:
                break
            taken += batch
            await asyncio.sleep(0)
        return taken

    batches = await asyncio.gather(*(worker(handles[n % 3], f"w{n}") for n in range(9)))
    _assert_disjoint(list(batches), expected=300)
    assert (await handles[1].count_by_state())[PushState.IN_FLIGHT] == 300


async def test_concurrent_finish_and_reclaim_keep_the_fence(
    backend: TrackingBackend, cipher: SecretCipher
) -> None:
    """Workers whose leases expired race their successors; only successors apply."""
    first, second = await backend.open(cipher), await backend.open(cipher)
    ids = await enqueue_many(first, 50)
    old = await first.claim(worker_id="old", limit=50, lease=LEASE, now=SOON)
    expired = SOON + LEASE
    new = await second.claim(worker_id="new", limit=50, lease=LEASE, now=expired)
    assert len(old) == len(new) == 50

    late, current = await asyncio.gather(
        first.finish([result(c, Verdict.FAILED, error="late") for c in old], now=expired),
        second.finish([result(c, Verdict.DELIVERED) for c in new], now=expired),
    )

    assert late == set()
    assert current == set(ids)
    assert (await first.count_by_state())[PushState.DELIVERED] == 50
    for delivery_id in ids[:5]:
        assert len(await second.list_attempts(delivery_id)) == 2


async def test_concurrent_enqueues_of_one_delivery_store_it_once(store: Store) -> None:
    records = await asyncio.gather(
        *(store.enqueue(new_push("same"), now=NOW + timedelta(seconds=n)) for n in range(20))
    )
    assert len({r.created_at for r in records}) == 1
    assert sum((await store.count_by_state()).values()) == 1


async def test_a_closed_handle_refuses_work(store: Store) -> None:
    await store.close()
    with pytest.raises(StorageError, match="closed"):
        await store.get_push("d1")
    with pytest.raises(StorageError, match="closed"):
        await store.enqueue(new_push("d1"), now=NOW)
    await store.close()  # closing twice is harmless
