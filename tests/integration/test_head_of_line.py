"""A receiver that hangs must not hold back pushes to the others (real HTTP, real SQLite).

1,000 pushes to a receiver that accepts and never answers are queued before 100 to a healthy
one. Before the claim gave each receiver a share, the first claim took 128 pushes of the
hanging receiver and the healthy ones waited for them to time out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush, PushState
from faxpush.storage.sqlite import SqliteStore

from .servers import LocalServer, serve
from .test_dispatcher import running, settings, store, wait_until

__all__ = ["store"]  # the fixture

HEALTHY_DELAY_LIMIT_S = 2.0


def _push(url: str, delivery_id: str) -> NewPush:
    return NewPush(
        delivery_id=delivery_id,
        job_id=f"FJ{delivery_id}",
        target=PushTarget(url=url),
        content_type="text/xml; charset=UTF-8",
        body=b"<faxJobReport/>",
    )


async def _enqueue_all(store: SqliteStore, url: str, ids: list[str]) -> None:
    """One transaction for the lot: a thousand single commits would take seconds."""
    pushes = [_push(url, delivery_id) for delivery_id in ids]
    await store.enqueue_many(pushes, now=datetime.now(UTC))


@asynccontextmanager
async def _hanging() -> AsyncIterator[LocalServer]:
    """Accepts every push and answers none until the test is over."""
    over = asyncio.Event()

    async def hang(_request: web.Request) -> web.Response:
        await asyncio.wait_for(over.wait(), 30)
        return web.Response()

    async with serve(hang) as server:
        try:
            yield server
        finally:
            over.set()  # the stuck sends finish at once, so the worker stops quickly


@asynccontextmanager
async def _healthy(arrived: dict[str, float]) -> AsyncIterator[LocalServer]:
    async def answer(request: web.Request) -> web.Response:
        arrived.setdefault(request.headers["Faxpush-Delivery-Id"], time.monotonic())
        return web.Response(text="ok")

    async with serve(answer) as server:
        yield server


@pytest.mark.parametrize("per_host", [None, 8], ids=["default-per-host", "per-host-8"])
async def test_a_hanging_receiver_does_not_hold_back_the_healthy_ones(
    store: SqliteStore, per_host: int | None
) -> None:
    overrides: dict[str, Any] = {"attempt_deadline": 5, "read_timeout": 5}
    if per_host is not None:
        overrides["per_host_concurrency"] = per_host
    config = settings(**overrides)
    arrived: dict[str, float] = {}
    async with _hanging() as stuck, _healthy(arrived) as healthy:
        await _enqueue_all(store, stuck.url("/hook"), [f"stuck{n:04d}" for n in range(1000)])
        first = [f"early{n:03d}" for n in range(100)]
        await _enqueue_all(store, healthy.url("/hook"), first)
        queued = time.monotonic()
        async with running(store, config):
            await wait_until(lambda: _arrived(arrived, first), seconds=10)
            early_delay = max(arrived[d] for d in first) - queued
            # and pushes queued while the hanging receiver holds its share go out at once
            later = [f"late{n:03d}" for n in range(100)]
            await _enqueue_all(store, healthy.url("/hook"), later)
            queued = time.monotonic()
            await wait_until(lambda: _arrived(arrived, later), seconds=10)
            late_delay = max(arrived[d] for d in later) - queued
            assert stuck.max_in_flight <= config.per_host_concurrency
    assert early_delay < HEALTHY_DELAY_LIMIT_S, f"first healthy 100 took {early_delay:.1f} s"
    assert late_delay < HEALTHY_DELAY_LIMIT_S, f"later healthy 100 took {late_delay:.1f} s"
    counts = await store.count_by_state()
    assert counts[PushState.DELIVERED] >= 200
    assert counts[PushState.IN_FLIGHT] == 0


async def _arrived(arrived: dict[str, float], ids: list[str]) -> bool:
    return all(delivery_id in arrived for delivery_id in ids)
