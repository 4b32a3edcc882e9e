"""The dispatcher end to end: a real SQLite outbox, real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from faxpush.core.outcome import Verdict
from faxpush.core.settings import Settings
from faxpush.core.targets import PushTarget
from faxpush.delivery.hooks import AttemptDetails
from faxpush.delivery.worker import delivery_engine
from faxpush.storage.base import NewPush, PushState, Store
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

from .servers import serve


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allowed_networks": (ipaddress.ip_network("127.0.0.0/8"),),
        "retry_delays": (0, 0.05, 0.05),
        "retry_jitter": 0,
        "lease_seconds": 5,
        "poll_interval": 0.05,
        "shutdown_grace": 1,
        "attempt_deadline": 3,
        "read_timeout": 3,
        "connect_timeout": 1,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([generate_key()]))
    await opened.migrate()
    yield opened
    await opened.close()


async def enqueue(store: Store, url: str, count: int, prefix: str = "p", **kw: Any) -> list[str]:
    ids = [f"{prefix}{n:03d}" for n in range(count)]
    for delivery_id in ids:
        push = NewPush(
            delivery_id=delivery_id,
            job_id=f"FJ{delivery_id}",
            target=PushTarget(url=url),
            content_type="text/xml; charset=UTF-8",
            body=b"<faxJobReport/>",
            **kw,
        )
        await store.enqueue(push, now=datetime.now(UTC))
    return ids


@asynccontextmanager
async def running(
    store: Store, config: Settings, hooks: tuple[Callable[[AttemptDetails], None], ...] = ()
) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    async with delivery_engine(store, config, hooks=hooks) as engine:
        task = asyncio.create_task(engine.dispatcher.run(stop))
        try:
            yield stop
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def wait_until(check: Callable[[], Any], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def all_final(store: Store) -> bool:
    counts = await store.count_by_state()
    return counts[PushState.PENDING] == 0 and counts[PushState.IN_FLIGHT] == 0


async def test_delivers_every_push_once_with_its_delivery_id(store: SqliteStore) -> None:
    async with serve(lambda _r: _ok()) as receiver:
        ids = await enqueue(store, receiver.url("/hook"), 60)
        seen: list[AttemptDetails] = []
        async with running(store, settings(concurrency=8), hooks=(seen.append,)):
            await wait_until(lambda: all_final(store))
    assert sorted(r.headers["Faxpush-Delivery-Id"] for r in receiver.requests) == ids
    assert {r.headers["Content-Type"] for r in receiver.requests} == {"text/xml; charset=UTF-8"}
    assert all(r.headers["User-Agent"].startswith("faxpush/") for r in receiver.requests)
    assert receiver.max_in_flight <= 8
    assert (await store.count_by_state())[PushState.DELIVERED] == 60
    attempts = await store.list_attempts(ids[0])
    assert [(a.number, a.http_status) for a in attempts] == [(1, 200)]
    assert len(seen) == 60
    assert all(d.verdict is Verdict.DELIVERED and d.applied for d in seen)


async def _ok() -> web.Response:
    return web.Response(text="ok")


async def test_5xx_is_retried_then_delivered_with_the_same_id(store: SqliteStore) -> None:
    answers = iter([503, 500])

    async def flaky(_request: web.Request) -> web.Response:
        return web.Response(status=next(answers, 200))

    async with serve(flaky) as receiver:
        (push_id,) = await enqueue(store, receiver.url(), 1)
        async with running(store, settings()):
            await wait_until(lambda: all_final(store))
    push = await store.get_push(push_id)
    assert push is not None
    assert push.state is PushState.DELIVERED
    assert push.attempts == 3
    attempts = await store.list_attempts(push_id)
    assert [a.http_status for a in attempts] == [503, 500, 200]
    assert {r.headers["Faxpush-Delivery-Id"] for r in receiver.requests} == {push_id}


async def test_4xx_fails_for_good_and_records_the_answer(store: SqliteStore) -> None:
    async def reject(_request: web.Request) -> web.Response:
        return web.Response(status=422, text="bad field", headers={"X-Why": "schema"})

    async with serve(reject) as receiver:
        (push_id,) = await enqueue(store, receiver.url(), 1)
        async with running(store, settings()):
            await wait_until(lambda: all_final(store))
    push = await store.get_push(push_id)
    assert push is not None
    assert push.state is PushState.FAILED
    assert push.last_error is not None
    assert "422" in push.last_error
    (attempt,) = await store.list_attempts(push_id)
    assert attempt.response_body == b"bad field"
    assert attempt.response_headers["X-Why"] == "schema"
    assert len(receiver.requests) == 1


async def test_retry_client_errors_switch_retries_until_the_schedule_ends(
    store: SqliteStore,
) -> None:
    async def reject(_request: web.Request) -> web.Response:
        return web.Response(status=404)

    async with serve(reject) as receiver:
        (push_id,) = await enqueue(store, receiver.url(), 1, retry_client_errors=True)
        async with running(store, settings()):
            await wait_until(lambda: all_final(store))
    push = await store.get_push(push_id)
    assert push is not None
    assert push.state is PushState.FAILED
    assert push.last_error is not None
    assert push.last_error.startswith("gave up after 3 attempts")
    assert len(receiver.requests) == 3


async def test_retry_after_is_honoured_but_clamped(store: SqliteStore) -> None:
    async def busy(_request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "3600"})

    async with serve(busy) as receiver:
        (push_id,) = await enqueue(store, receiver.url(), 1)
        before = datetime.now(UTC)
        async with running(store, settings(retry_delays=(0, 2, 2))):
            await wait_until(lambda: _attempts_at_least(store, push_id, 1))
    push = await store.get_push(push_id)
    assert push is not None
    assert push.state is PushState.PENDING
    wait = (push.next_attempt_at - before).total_seconds()
    assert 3.9 <= wait <= 4.5  # 2 s scheduled, Retry-After 3600 s clamped to 2x
    assert len(receiver.requests) == 1


async def _attempts_at_least(store: Store, push_id: str, n: int) -> bool:
    push = await store.get_push(push_id)
    return push is not None and push.attempts >= n


async def test_slow_receiver_does_not_starve_the_others(store: SqliteStore) -> None:
    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 10)
        return web.Response()

    async with serve(slow) as slow_rx, serve(lambda _r: _ok()) as fast_rx:
        await enqueue(store, slow_rx.url(), 40, prefix="slow")
        fast_ids = await enqueue(store, fast_rx.url(), 20, prefix="fast")
        config = settings(concurrency=8, per_host_concurrency=2, claim_batch=10)
        async with running(store, config):
            await wait_until(lambda: _delivered(store, fast_ids), seconds=5)
            assert slow_rx.max_in_flight <= 2
            release.set()
            await wait_until(lambda: all_final(store))
    assert len(fast_rx.requests) == 20
    assert len(slow_rx.requests) == 40


async def _delivered(store: Store, ids: list[str]) -> bool:
    for delivery_id in ids:
        push = await store.get_push(delivery_id)
        if push is None or push.state is not PushState.DELIVERED:
            return False
    return True


async def test_graceful_shutdown_releases_pushes_that_are_still_sending(
    store: SqliteStore,
) -> None:
    started = asyncio.Event()

    async def hang(_request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(30)
        return web.Response()

    async with serve(hang) as receiver:
        ids = await enqueue(store, receiver.url(), 3)
        stop = asyncio.Event()
        async with delivery_engine(store, settings(shutdown_grace=0.3)) as engine:
            task = asyncio.create_task(engine.dispatcher.run(stop))
            await asyncio.wait_for(started.wait(), 5)
            t0 = time.monotonic()
            stop.set()
            await asyncio.wait_for(task, 5)
            assert time.monotonic() - t0 < 2
    for delivery_id in ids:
        push = await store.get_push(delivery_id)
        assert push is not None
        assert push.state is PushState.PENDING
        assert push.claim_id is None
        assert push.attempts == 0


async def test_an_expired_lease_of_a_dead_worker_is_delivered(store: SqliteStore) -> None:
    async with serve(lambda _r: _ok()) as receiver:
        (push_id,) = await enqueue(store, receiver.url(), 1)
        now = datetime.now(UTC)
        (dead,) = await store.claim(
            worker_id="dead", limit=1, lease=timedelta(milliseconds=300), now=now
        )
        async with running(store, settings()):
            await wait_until(lambda: all_final(store))
    push = await store.get_push(push_id)
    assert push is not None
    assert push.state is PushState.DELIVERED
    assert push.claim_id != dead.claim_id
    assert len(receiver.requests) == 1


async def test_leases_are_renewed_while_a_slow_push_is_sending(store: SqliteStore) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(1.2)
        return web.Response()

    async with serve(slow) as receiver:
        await enqueue(store, receiver.url(), 1)
        config = settings(lease_seconds=0.4, attempt_deadline=5, read_timeout=5)
        async with running(store, config), running(store, config):  # two workers
            await wait_until(lambda: all_final(store))
    assert len(receiver.requests) == 1


async def test_a_failing_hook_does_not_stop_delivery(store: SqliteStore) -> None:
    def broken(_details: AttemptDetails) -> None:
        raise RuntimeError("hook bug")

    async with serve(lambda _r: _ok()) as receiver:
        await enqueue(store, receiver.url(), 5)
        async with running(store, settings(), hooks=(broken,)):
            await wait_until(lambda: all_final(store))
    assert (await store.count_by_state())[PushState.DELIVERED] == 5
