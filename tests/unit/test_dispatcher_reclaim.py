"""A worker whose own leases expired while the store was away, and which then claims the same
pushes again, never sends one push twice at once.

The store is the real memory store whose renewals fail while ``away`` is set; the clock is the
test's, so a lease expires when the test says so; sends are answered in process and count how
many are open per push.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from faxpush.core.errors import StorageError
from faxpush.delivery.dispatcher import Dispatcher
from faxpush.delivery.judge import SendOutcome
from faxpush.storage.base import ClaimedPush, PushRecord, PushState
from faxpush.storage.memory import MemoryStore
from tests.unit.test_dispatcher_store_failures import (
    Answered,
    delivered,
    enqueue,
    running,
    settings,
)


class RenewalsAway(MemoryStore):
    """Renewals fail while ``away`` is set; everything else works. Counts claims."""

    def __init__(self) -> None:
        super().__init__()
        self.away = False
        self.claims_made = 0

    async def claim(self, **kwargs: Any) -> list[ClaimedPush]:
        self.claims_made += 1
        return await super().claim(**kwargs)

    async def renew(
        self, claims: Sequence[tuple[str, str]], *, lease: timedelta, now: datetime
    ) -> set[str]:
        if self.away:
            raise StorageError("cannot renew leases: the database does not answer")
        return await super().renew(claims, lease=lease, now=now)


class HeldSends:
    """Sends wait until released; counts sends and overlapping sends per delivery id."""

    def __init__(self) -> None:
        self.sends: Counter[str] = Counter()
        self.overlaps: Counter[str] = Counter()
        self.open: Counter[str] = Counter()
        self.release = asyncio.Event()

    async def __call__(self, push: PushRecord) -> SendOutcome:
        delivery_id = push.delivery_id
        self.sends[delivery_id] += 1
        self.overlaps[delivery_id] += self.open[delivery_id] > 0
        self.open[delivery_id] += 1
        try:
            await self.release.wait()
        finally:
            self.open[delivery_id] -= 1
        return Answered()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def until(condition: object, seconds: float = 5.0) -> None:
    assert callable(condition)
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def reclaim_while_sending(
    concurrency: int, pushes: int, claims: int = 1
) -> tuple[HeldSends, RenewalsAway]:
    """The first ``concurrency`` sends hang; the store goes away for longer than a lease,
    comes back, and the feeder claims the expired pushes again (in ``claims`` claims of one
    push each, oldest first); then the sends finish."""
    store, sends = RenewalsAway(), HeldSends()
    ids = await enqueue(store, pushes)
    clock = Clock()  # after the enqueue: the pushes are due
    config = settings(
        concurrency=concurrency,
        per_host_concurrency=concurrency,
        lease_seconds=3,
        claim_batch=concurrency + 1,  # one push waits for a slot, and the worker has room left
    )
    dispatcher = Dispatcher(store, sends, config, hooks=(), clock=clock)
    async with running(dispatcher):
        await until(lambda: sum(sends.open.values()) == concurrency)
        store.away = True
        clock.now += timedelta(seconds=10)  # every lease this worker holds has expired
        claims_before = store.claims_made
        dispatcher.wake()
        await until(lambda: store.claims_made >= claims_before + claims)
        await asyncio.sleep(0.1)  # room for a second send of a reclaimed push to start
        store.away = False
        sends.release.set()
        await delivered(store, pushes)
    assert set(sends.sends) == set(ids)
    return sends, store


async def test_a_push_reclaimed_while_it_is_being_sent_is_not_sent_again() -> None:
    sends, store = await reclaim_while_sending(concurrency=1, pushes=1)
    assert sends.overlaps == Counter()
    assert sends.sends == Counter({"d000": 1}), "the result is recorded under the new claim"
    attempts = await store.list_attempts("d000")
    assert [a.http_status for a in attempts] == [200]


async def test_reclaimed_pushes_waiting_for_a_slot_are_sent_once() -> None:
    # d000 and d001 are being sent and d002 waits for a slot when all three are claimed again
    sends, store = await reclaim_while_sending(concurrency=2, pushes=3, claims=3)
    assert sends.overlaps == Counter()
    assert sends.sends == Counter({"d000": 1, "d001": 1, "d002": 1})
    assert (await store.count_by_state())[PushState.DELIVERED] == 3
