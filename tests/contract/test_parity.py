"""Contract: random operation sequences give the same observable results on every backend
as on the in-memory reference store."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from faxpush.storage.base import ClaimedPush, PushState, Store, Verdict
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.memory import MemoryStore

from .builders import NOW, new_push, result
from .conftest import TrackingBackend

STEPS = 120


@dataclass
class Claims:
    """Claims handed out so far, per backend (their claim ids differ; their pushes must not)."""

    by_backend: list[list[tuple[str, str]]] = field(default_factory=lambda: [[], []])

    def add(self, side: int, pairs: list[tuple[str, str]]) -> None:
        self.by_backend[side] += pairs

    def pick(self, rng: random.Random) -> list[int]:
        count = len(self.by_backend[0])
        return sorted(rng.sample(range(count), k=min(count, rng.randint(0, 4))))


async def _snapshot(store: Store) -> list[Any]:
    pushes = await store.list_pushes(limit=1000)
    return [
        await store.next_due_at(),
        await store.count_by_state(),
        [
            (
                p.delivery_id,
                p.state,
                p.attempts,
                p.next_attempt_at,
                p.claimed_until,
                p.last_error,
                p.updated_at,
                len(await store.list_attempts(p.delivery_id)),
            )
            for p in pushes
        ],
    ]


async def _step(
    rng: random.Random, stores: tuple[Store, Store], claims: Claims, now: datetime
) -> list[Any]:
    """Apply one random operation to both stores; return both outcomes."""
    kinds = ["enqueue", "enqueue", "claim", "claim", "finish", "renew", "release", "redeliver"]
    kind = rng.choice(kinds)
    outcomes: list[Any] = []
    if kind == "enqueue":
        delivery_id = f"d{rng.randrange(15)}"
        delay_s = rng.choice([None, 0, 5, 30, 90])
        not_before = None if delay_s is None else now + timedelta(seconds=delay_s)
        push = new_push(delivery_id, not_before=not_before)
        outcomes = [(await s.enqueue(push, now=now)).next_attempt_at for s in stores]
    elif kind == "claim":
        limit, lease = rng.randint(1, 5), timedelta(seconds=rng.choice([10, 30, 60]))
        for side, store in enumerate(stores):
            taken = await store.claim(worker_id="w", limit=limit, lease=lease, now=now)
            claims.add(side, [(c.push.delivery_id, c.claim_id) for c in taken])
            outcomes.append([c.push.delivery_id for c in taken])
    elif kind == "finish":
        picked = claims.pick(rng)
        verdicts = [rng.choice(list(Verdict)) for _ in picked]
        waits = [timedelta(seconds=rng.choice([0, 20, 90])) for _ in picked]
        for side, store in enumerate(stores):
            batch = []
            for index, verdict, wait in zip(picked, verdicts, waits, strict=True):
                delivery_id, claim_id = claims.by_backend[side][index]
                record = await store.get_push(delivery_id)
                assert record is not None
                claim = ClaimedPush(record, claim_id, record.claimed_until or now)
                retry_at = now + wait if verdict is Verdict.RETRY else None
                batch.append(result(claim, verdict, next_attempt_at=retry_at, error=verdict.value))
            outcomes.append(await store.finish(batch, now=now))
    elif kind in ("renew", "release"):
        picked = claims.pick(rng)
        for side, store in enumerate(stores):
            pairs = [claims.by_backend[side][index] for index in picked]
            if kind == "renew":
                outcomes.append(await store.renew(pairs, lease=timedelta(seconds=30), now=now))
            else:
                outcomes.append(await store.release(pairs, now=now))
    else:
        ids = [f"d{rng.randrange(15)}" for _ in range(rng.randint(0, 3))]
        since = rng.choice([None, now - timedelta(seconds=60)])
        outcomes = [
            await s.redeliver(delivery_ids=ids, failed_since=since, now=now) for s in stores
        ]
    return outcomes


@pytest.mark.parametrize("seed", range(12))
async def test_backend_matches_the_memory_reference(
    backend: TrackingBackend, cipher: SecretCipher, seed: int
) -> None:
    reference = MemoryStore(cipher)
    stores = (reference, await backend.open(cipher))
    rng = random.Random(seed)
    claims = Claims()
    now = NOW
    try:
        for step in range(STEPS):
            if rng.random() < 0.3:
                now += timedelta(seconds=rng.choice([1, 10, 25, 45]))
            outcomes = await _step(rng, stores, claims, now)
            assert outcomes[0] == outcomes[1], f"step {step}"
            if step % 10 == 0 or step == STEPS - 1:
                assert await _snapshot(stores[0]) == await _snapshot(stores[1]), f"step {step}"
        counts = await stores[1].count_by_state()
        assert sum(counts.values()) > 0
        assert counts[PushState.CANCELLED] == 0
    finally:
        await reference.close()
