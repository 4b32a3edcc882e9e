"""Two worker processes lose PostgreSQL for 30 s in the middle of 5,000 pushes: they keep
running, reconnect by themselves, and every push is delivered, with a bounded number sent
twice. And a database that stalls (accepts, never answers) costs one command timeout.

Both ``faxpush worker`` processes reach PostgreSQL only through :class:`tests.faults.FaultProxy`;
the cut resets every open session and every new connection for ``CUT_S``. The test's own
store (enqueue, counting) connects directly.

The duplicate bound: a worker holds at most ``2 * CONCURRENCY`` claimed pushes (in flight
plus claimed and waiting for a send slot). During the cut it may still send those, but cannot
record the results; their leases expire and they are sent again after the restore. Nothing is
claimed while the database is away, so no more than ``WORKERS * 2 * CONCURRENCY`` pushes can
be sent twice.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from faxpush.storage.base import PushState
from tests.faults import FaultProxy, Mode
from tests.integration.test_dispatcher import running, settings

from .conftest import OpenStore
from .workers import (
    CountingReceiver,
    enqueue_counted,
    serving,
    start_worker,
    stop_workers,
    worker_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(240)]

PUSHES = 5_000
WORKERS = 2
CONCURRENCY = 16
DUPLICATE_BOUND = WORKERS * 2 * CONCURRENCY
CUT_S = 30.0
CUT_AFTER = 2_500  # delivered pushes before the cut: the queue is busy when it falls
LEASE_S = 5.0
HOLD_S = 0.05  # the receiver holds each request: at most 640 pushes/s, so the cut hits work
DEADLINE_S = 150.0


def through(proxy: FaultProxy, pg_url: str) -> str:
    parts = urlsplit(pg_url)
    user = f"{parts.username}@" if parts.username else ""
    password = f":{parts.password}" if parts.password else ""
    if password:
        user = f"{parts.username}{password}@"
    netloc = f"{user}127.0.0.1:{proxy.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def test_a_30_s_database_cut_under_two_workers_loses_nothing(
    open_store: OpenStore, pg_url: str, tmp_path: Path
) -> None:
    pg = urlsplit(pg_url)
    assert pg.hostname in ("127.0.0.1", "localhost", "::1"), "the proxy forwards to loopback"
    receiver = CountingReceiver(HOLD_S)
    store = await open_store()
    async with serving(receiver) as url, FaultProxy(pg.port or 5432) as proxy:
        expected = await enqueue_counted(store, "c", PUSHES, url)
        env = worker_env(through(proxy, pg_url), concurrency=CONCURRENCY, lease_s=LEASE_S)
        logs = [tmp_path / f"worker{n}.log" for n in range(WORKERS)]
        workers = [await start_worker(env, log) for log in logs]
        started = time.monotonic()

        def check_alive() -> None:
            for n, proc in enumerate(workers):
                assert proc.returncode is None, logs[n].read_text()[-3000:]

        try:
            while (await store.count_by_state())[PushState.DELIVERED] < CUT_AFTER:
                check_alive()
                assert time.monotonic() - started < DEADLINE_S, "no progress before the cut"
                await asyncio.sleep(0.1)
            dropped = proxy.cut()
            at_cut = await store.count_by_state()
            await asyncio.sleep(CUT_S)
            during = await store.count_by_state()
            proxy.restore()
            check_alive()
            cut_over = time.monotonic()
            while (counts := await store.count_by_state())[PushState.DELIVERED] < PUSHES:
                check_alive()
                assert time.monotonic() - started < DEADLINE_S, f"not drained: {counts}"
                await asyncio.sleep(0.25)
            recovery_s = time.monotonic() - cut_over
        finally:
            codes = await stop_workers(workers)

    assert dropped >= WORKERS, "each worker had sessions open when the database went away"
    assert at_cut[PushState.DELIVERED] < PUSHES - 1_000, "the cut fell on a busy queue"
    # Only results of sends already under way could be recorded as the cut began.
    assert during[PushState.DELIVERED] - at_cut[PushState.DELIVERED] <= DUPLICATE_BOUND
    assert codes == [0] * WORKERS, "the workers stop cleanly on SIGTERM after the cut"
    assert set(receiver.requests) == expected, "lost pushes"
    assert sum(receiver.overlaps.values()) == 0, f"sent twice at once: {receiver.overlaps}"
    duplicates = sum(receiver.requests.values()) - PUSHES
    assert duplicates <= DUPLICATE_BOUND, f"{duplicates} duplicate sends"
    assert await store.count_by_state() == {
        PushState.PENDING: 0,
        PushState.IN_FLIGHT: 0,
        PushState.DELIVERED: PUSHES,
        PushState.FAILED: 0,
        PushState.CANCELLED: 0,
    }
    sys.stderr.write(
        f"{duplicates} duplicate sends (bound {DUPLICATE_BOUND}); {dropped} sessions cut; "
        f"drained {recovery_s:.1f} s after the restore\n"
    )


STALL_S = 6.0
COMMAND_TIMEOUT = timedelta(seconds=2)


async def test_a_stalled_database_costs_a_command_timeout_then_work_resumes(
    open_store: OpenStore, pg_url: str
) -> None:
    """Every session stalls (queries and new connections swallowed) for STALL_S; the stalled
    statements end by the store's command timeout, and delivery resumes on new sessions."""
    pg = urlsplit(pg_url)
    receiver = CountingReceiver(HOLD_S)
    direct = await open_store()
    total = 800
    config = settings(concurrency=CONCURRENCY, per_host_concurrency=CONCURRENCY, lease_seconds=3)
    async with serving(receiver) as url:
        expected = await enqueue_counted(direct, "c", total, url)
        async with FaultProxy(pg.port or 5432) as proxy:
            store = await open_store(
                through(proxy, pg_url),
                command_timeout=COMMAND_TIMEOUT,
                connect_timeout=timedelta(seconds=1),
            )
            async with running(store, config):
                started = time.monotonic()
                while (await direct.count_by_state())[PushState.DELIVERED] < 150:
                    assert time.monotonic() - started < 30, "no progress before the stall"
                    await asyncio.sleep(0.05)
                proxy.mode = Mode.STALL
                await asyncio.sleep(STALL_S)
                proxy.restore()
                restored = time.monotonic()
                while (counts := await direct.count_by_state())[PushState.DELIVERED] < total:
                    assert time.monotonic() - restored < 30, f"not drained: {counts}"
                    await asyncio.sleep(0.1)
                recovery_s = time.monotonic() - restored
    assert set(receiver.requests) == expected, "lost pushes"
    duplicates = sum(receiver.requests.values()) - total
    assert duplicates <= 2 * CONCURRENCY, f"{duplicates} duplicate sends"
    assert sum(receiver.overlaps.values()) == 0
    sys.stderr.write(
        f"stall: {duplicates} duplicate sends; drained {recovery_s:.1f} s after the restore\n"
    )
