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
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from faxpush.core.models import AuthMethod
from faxpush.storage.base import NewPush, PushState, PushTarget
from faxpush.storage.cipher import generate_key
from tests import pg_support
from tests.contract.builders import NOW

from .conftest import OpenStore

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
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


class CountingReceiver:
    """Answers 200 after HOLD_S; counts requests and overlaps per delivery id."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.overlaps: Counter[str] = Counter()
        self._open: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        delivery_id = request.headers.get("Faxpush-Delivery-Id", "")
        await request.read()
        self.requests[delivery_id] += 1
        if self._open[delivery_id]:
            self.overlaps[delivery_id] += 1
        self._open[delivery_id] += 1
        try:  # a killed worker's connection closes: aiohttp then cancels this handler
            await asyncio.sleep(HOLD_S)
        finally:
            self._open[delivery_id] -= 1
        return web.Response(status=200)


def _push(n: int, url: str) -> NewPush:
    delivery_id = f"d{n:05d}"
    return NewPush(
        delivery_id=delivery_id,
        job_id=f"job-{n}",
        target=PushTarget(url=url, auth_method=AuthMethod.NONE),
        content_type="application/json",
        body=b'{"jobId": "%d"}' % n,
    )


async def _start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "faxpush.cli.main",
            "worker",
            cwd=REPO,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )


async def test_kills_and_lost_sessions_lose_nothing(
    open_store: OpenStore, pg_url: str, tmp_path: Path
) -> None:
    receiver = CountingReceiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/hook"

    store = await open_store()
    for start in range(0, PUSHES, 250):
        await asyncio.gather(
            *(store.enqueue(_push(n, url), now=NOW) for n in range(start, start + 250))
        )

    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env.update(
        FAXPUSH_DATABASE_URL=pg_url,
        FAXPUSH_SECRET_KEY=generate_key(),
        FAXPUSH_ALLOWED_NETWORKS="127.0.0.0/8",
        FAXPUSH_CONCURRENCY=str(PER_WORKER),
        FAXPUSH_PER_HOST_CONCURRENCY=str(PER_WORKER),
        FAXPUSH_LEASE_SECONDS=str(LEASE_S),
        FAXPUSH_POLL_INTERVAL="0.2",
        FAXPUSH_SHUTDOWN_GRACE="2",
        FAXPUSH_LOG_LEVEL="WARNING",
    )
    logs = [tmp_path / f"worker{n}.log" for n in range(WORKERS)]
    workers = [await _start_worker(env, log) for log in logs]
    rng = random.Random(2024)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    kills = cuts = 0
    try:
        # Disturb while the queue is busy: a kill every second, a session cut after kills 3 and 7.
        while kills < KILLS:
            assert loop.time() < deadline, "the disturbance phase took too long"
            await asyncio.sleep(1.0)
            victim = rng.randrange(WORKERS)
            workers[victim].send_signal(signal.SIGKILL)
            await workers[victim].wait()
            workers[victim] = await _start_worker(env, logs[victim])
            kills += 1
            if kills in (3, 7):
                assert await pg_support.terminate_sessions(pg_url) > 0
                cuts += 1
        busy = await store.count_by_state()
        # the disturbances hit a busy queue: work was still left after the last one
        assert busy[PushState.DELIVERED] < PUSHES, busy
        # Then wait for the queue to drain.
        while True:
            counts = await store.count_by_state()
            if counts[PushState.DELIVERED] == PUSHES:
                break
            for n, proc in enumerate(workers):
                assert proc.returncode is None, logs[n].read_text()[-3000:]
            assert loop.time() < deadline, f"queue not drained: {counts}"
            await asyncio.sleep(0.25)
    finally:
        for proc in workers:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await runner.cleanup()

    assert (kills, cuts) == (KILLS, DB_CUTS)
    expected = {f"d{n:05d}" for n in range(PUSHES)}
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
