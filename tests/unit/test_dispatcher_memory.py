"""The dispatcher on the memory store with an in-process ``send``: no sockets, no files.

What a delivery does end to end inside the worker: the retry schedule after a 5xx, the
per-receiver limit on sends at once, and a graceful stop that hands back unstarted pushes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from faxpush.core.targets import PushTarget
from faxpush.delivery.dispatcher import Dispatcher
from faxpush.delivery.judge import SendOutcome
from faxpush.storage.base import NewPush, PushRecord, PushState
from faxpush.storage.memory import MemoryStore
from tests.unit.test_dispatcher_store_failures import Answered, delivered, running, settings


async def enqueue_to(store: MemoryStore, receivers: dict[str, int]) -> None:
    for host, count in receivers.items():
        for n in range(count):
            target = PushTarget(url=f"http://{host}:8080/push")
            push = NewPush(f"{host}-{n}", f"job-{host}-{n}", target, "application/json", b"{}")
            await store.enqueue(push, now=datetime.now(UTC))


async def test_a_5xx_is_retried_on_the_schedule_and_then_delivered() -> None:
    store = MemoryStore()
    await enqueue_to(store, {"127.0.0.1": 1})
    answers = iter([Answered(http_status=503), Answered(http_status=200)])
    sent_at: list[float] = []

    async def send(_push: PushRecord) -> SendOutcome:
        sent_at.append(asyncio.get_running_loop().time())
        return next(answers)

    config = settings(retry_delays=(0, 0.3), retry_jitter=0.0, poll_interval=0.05)
    async with running(Dispatcher(store, send, config, hooks=())):
        await delivered(store, 1)
    attempts = await store.list_attempts("127.0.0.1-0")
    assert [a.http_status for a in attempts] == [503, 200]
    assert sent_at[1] - sent_at[0] >= 0.29, "the second try waited for the schedule"


async def test_no_receiver_gets_more_sends_at_once_than_its_limit() -> None:
    store = MemoryStore()
    await enqueue_to(store, {"127.0.0.1": 12, "127.0.0.2": 12})
    open_now: Counter[str] = Counter()
    most: Counter[str] = Counter()

    async def send(push: PushRecord) -> SendOutcome:
        host = push.delivery_id.rsplit("-", 1)[0]
        open_now[host] += 1
        most[host] = max(most[host], open_now[host])
        await asyncio.sleep(0.01)
        open_now[host] -= 1
        return Answered()

    config = settings(concurrency=8, per_host_concurrency=3)
    async with running(Dispatcher(store, send, config, hooks=())):
        await delivered(store, 24)
    assert most == Counter({"127.0.0.1": 3, "127.0.0.2": 3})


async def test_a_graceful_stop_hands_back_the_pushes_not_started() -> None:
    store = MemoryStore()
    await enqueue_to(store, {"127.0.0.1": 6})
    started = asyncio.Event()

    async def send(_push: PushRecord) -> SendOutcome:
        started.set()
        await asyncio.sleep(0.05)
        return Answered()

    config = settings(concurrency=2, per_host_concurrency=2, shutdown_grace=5)
    async with running(Dispatcher(store, send, config, hooks=())):
        await asyncio.wait_for(started.wait(), 5)
    counts = await store.count_by_state()
    assert counts[PushState.DELIVERED] == 2, "the two sends under way were finished"
    assert counts[PushState.PENDING] == 4, "the claimed ones not started went back"
    assert counts[PushState.IN_FLIGHT] == 0
