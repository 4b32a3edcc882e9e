"""What the multi-process PostgreSQL tests share: a counting receiver, the pushes they queue,
and ``faxpush worker`` subprocesses started and stopped the same way."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from faxpush.core.models import AuthMethod
from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush, Store
from faxpush.storage.cipher import generate_key
from tests.contract.builders import NOW

REPO = Path(__file__).resolve().parents[2]


class CountingReceiver:
    """Answers 200 after ``hold_s``; counts requests and overlaps per delivery id."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
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
            await asyncio.sleep(self.hold_s)
        finally:
            self._open[delivery_id] -= 1
        return web.Response(text="stored")


@asynccontextmanager
async def serving(receiver: CountingReceiver) -> AsyncIterator[str]:
    """Serve ``receiver`` on 127.0.0.1; yields its URL."""
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()


def counted_push(prefix: str, n: int, url: str) -> NewPush:
    return NewPush(
        delivery_id=f"{prefix}{n:05d}",
        job_id=f"job-{n}",
        target=PushTarget(url=url, auth_method=AuthMethod.NONE),
        content_type="application/json",
        body=b'{"jobId": "%d"}' % n,
    )


async def enqueue_counted(store: Store, prefix: str, count: int, url: str) -> set[str]:
    """Queue ``count`` pushes to ``url`` in batches; returns their delivery ids."""
    for start in range(0, count, 250):
        batch = range(start, min(start + 250, count))
        await asyncio.gather(*(store.enqueue(counted_push(prefix, n, url), now=NOW) for n in batch))
    return {f"{prefix}{n:05d}" for n in range(count)}


def worker_env(database_url: str, *, concurrency: int, lease_s: float) -> dict[str, str]:
    """The environment of a test worker: this process's, less any ``FAXPUSH_*`` of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env.update(
        FAXPUSH_DATABASE_URL=database_url,
        FAXPUSH_SECRET_KEY=generate_key(),
        FAXPUSH_ALLOWED_NETWORKS="127.0.0.0/8",
        FAXPUSH_CONCURRENCY=str(concurrency),
        FAXPUSH_PER_HOST_CONCURRENCY=str(concurrency),
        FAXPUSH_LEASE_SECONDS=str(lease_s),
        FAXPUSH_POLL_INTERVAL="0.2",
        FAXPUSH_SHUTDOWN_GRACE="2",
        FAXPUSH_LOG_LEVEL="WARNING",
    )
    return env


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "faxpush.cli.main", "worker",
            cwd=REPO, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=sink,
        )  # fmt: skip


async def stop_workers(workers: list[asyncio.subprocess.Process]) -> list[int]:
    """SIGTERM to each live worker, SIGKILL after 20 s; their exit codes."""
    for proc in workers:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in workers:
        try:
            codes.append(await asyncio.wait_for(proc.wait(), 20))
        except TimeoutError:
            proc.kill()
            codes.append(await proc.wait())
    return codes
