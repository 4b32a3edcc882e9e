"""Four worker processes on one PostgreSQL queue, killed and cut off from the database on
purpose: every push is still delivered, never sent twice at once by live workers, and the
queue drains.

10,000 pushes go to a counting receiver on 127.0.0.1 that holds each request a moment and
records, per delivery id, how many requests arrived and whether one arrived while another
for the same id was still open. Meanwhile a random worker is killed with SIGKILL ten times
(and restarted), and every database session is terminated twice.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from pathlib import Path

import pytest

from faxpush.storage.base import PushState
from tests import pg_support

from .conftest import OpenStore
from .workers import (
    CountingReceiver,
    enqueue_counted,
    serving,
    start_worker,
    stop_workers,
    worker_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

PUSHES = 10_000
WORKERS = 4
KILLS = 10
DB_CUTS = 2
PER_WORKER = 16  # pushes one worker sends at once (to this one receiver)
LEASE_S = 3.0
# How long the receiver keeps each request open. It also caps delivery at
# WORKERS * PER_WORKER / HOLD_S = 640 pushes/s, so the queue is still busy at the last kill
# (about 10.5 s in) however fast the workers are.
HOLD_S = 0.1
DEADLINE_S = 150.0


async def test_kills_and_lost_sessions_lose_nothing(
    open_store: OpenStore, pg_url: str, tmp_path: Path
) -> None:
    receiver = CountingReceiver(HOLD_S)
    store = await open_store()
    rng = random.Random(2024)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    kills = cuts = 0
    async with serving(receiver) as url:
        expected = await enqueue_counted(store, "d", PUSHES, url)
        env = worker_env(pg_url, concurrency=PER_WORKER, lease_s=LEASE_S)
        logs = [tmp_path / f"worker{n}.log" for n in range(WORKERS)]
        workers = [await start_worker(env, log) for log in logs]
        try:
            # Disturb while the queue is busy: a kill every second, a session cut after kills
            # 3 and 7.
            while kills < KILLS:
                assert loop.time() < deadline, "the disturbance phase took too long"
                await asyncio.sleep(1.0)
                victim = rng.randrange(WORKERS)
                workers[victim].send_signal(signal.SIGKILL)
                await workers[victim].wait()
                workers[victim] = await start_worker(env, logs[victim])
                kills += 1
                if kills in (3, 7):
                    assert await pg_support.terminate_sessions(pg_url) > 0
                    cuts += 1
            busy = await store.count_by_state()
            # the disturbances hit a busy queue: work was still left after the last one
            assert busy[PushState.DELIVERED] < PUSHES, busy
            # Then wait for the queue to drain.
            while (counts := await store.count_by_state())[PushState.DELIVERED] < PUSHES:
                for n, proc in enumerate(workers):
                    assert proc.returncode is None, logs[n].read_text()[-3000:]
                assert loop.time() < deadline, f"queue not drained: {counts}"
                await asyncio.sleep(0.25)
        finally:
            await stop_workers(workers)

    assert (kills, cuts) == (KILLS, DB_CUTS)
    assert set(receiver.requests) == expected, "lost pushes"
    assert sum(receiver.overlaps.values()) == 0, f"sent twice at once: {receiver.overlaps}"
    duplicates = sum(receiver.requests.values()) - PUSHES
    assert duplicates <= KILLS * PER_WORKER, f"{duplicates} duplicate sends"
    assert await store.count_by_state() == {
        PushState.PENDING: 0,
        PushState.IN_FLIGHT: 0,
        PushState.DELIVERED: PUSHES,
        PushState.FAILED: 0,
        PushState.CANCELLED: 0,
    }
    sys.stderr.write(
        f"{duplicates} duplicate sends after {kills} kills and {cuts} cuts; "
        f"{busy[PushState.DELIVERED]} delivered at the last kill\n"
    )
