"""Crash test: ``faxpush worker`` killed with SIGKILL mid-delivery loses nothing.

2,000 pushes, a counting receiver in its own process, the worker killed at 5 random moments
and restarted each time: every push arrives at least once, the outbox drains, and duplicates
stay within kills x concurrency (only sent-but-unrecorded pushes can be sent twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush, PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[2]
PUSHES = 2_000
KILLS = 5
CONCURRENCY = 32

pytestmark = pytest.mark.slow


def _wait_for_file(path: Path, seconds: float = 15) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} did not appear")


class CountingReceiver:
    """``bench/receiver.py`` in its own process; :meth:`stop` returns its per-id counts."""

    def __init__(self, tmp_path: Path) -> None:
        port_file, self._stats = tmp_path / "port", tmp_path / "stats.json"
        self._proc = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "bench" / "receiver.py"),
                "--port-file",
                str(port_file),
                "--stats-file",
                str(self._stats),
            ]
        )
        self.port = int(_wait_for_file(port_file))

    def stop(self) -> dict[str, int]:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            self._proc.wait(15)
        counts: dict[str, int] = json.loads(_wait_for_file(self._stats))
        return counts


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[CountingReceiver]:
    running = CountingReceiver(tmp_path)
    try:
        yield running
    finally:
        running.stop()


async def _enqueue(db: Path, key: str, url: str) -> None:
    store = await SqliteStore.open(db, SecretCipher([key]))
    await store.migrate()
    now = datetime.now(UTC)
    for n in range(PUSHES):
        push = NewPush(
            delivery_id=f"crash-{n:05d}",
            job_id=f"FJ{n:020d}",
            target=PushTarget(url=url),
            content_type="text/xml; charset=UTF-8",
            body=b"<faxJobReport/>",
        )
        await store.enqueue(push, now=now)
    await store.close()


async def _counts(db: Path, key: str) -> dict[PushState, int]:
    store = await SqliteStore.open(db, SecretCipher([key]))
    try:
        return await store.count_by_state()
    finally:
        await store.close()


def _delivered(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        (count,) = conn.execute("SELECT count(*) FROM pushes WHERE state = 'delivered'").fetchone()
    return int(count)


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "faxpush.cli", "worker", "--log-level", "WARNING"],
            env=env,
            stdout=sink,
            stderr=sink,
        )


def test_sigkill_at_random_moments_loses_nothing(
    tmp_path: Path, receiver: CountingReceiver
) -> None:
    port = receiver.port
    db, key = tmp_path / "outbox.db", generate_key()
    asyncio.run(_enqueue(db, key, f"http://127.0.0.1:{port}/hook"))
    env = {
        **os.environ,
        "FAXPUSH_DATABASE_URL": f"sqlite:///{db}",
        "FAXPUSH_SECRET_KEY": key,
        "FAXPUSH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "FAXPUSH_CONCURRENCY": str(CONCURRENCY),
        "FAXPUSH_PER_HOST_CONCURRENCY": str(CONCURRENCY),
        "FAXPUSH_LEASE_SECONDS": "1.5",
        "FAXPUSH_POLL_INTERVAL": "0.1",
        "FAXPUSH_RETRY_DELAYS": "0,0.2,0.5,1,1,1,1,1",
    }
    log = tmp_path / "worker.log"
    rng = random.Random(20240506)
    # kill at random points of progress, so every kill lands in the middle of delivery
    targets = sorted(rng.sample(range(100, PUSHES - 200), KILLS))
    kills = 0
    for target in targets:
        worker = _start_worker(env, log)
        deadline = time.monotonic() + 60
        while _delivered(db) < target and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.001, 0.02))
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        kills += 1
    worker = _start_worker(env, log)
    try:
        deadline = time.monotonic() + 90
        counts = asyncio.run(_counts(db, key))
        while counts[PushState.DELIVERED] < PUSHES and time.monotonic() < deadline:
            time.sleep(0.25)
            counts = asyncio.run(_counts(db, key))
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0, log.read_text()[-3000:]
    assert counts[PushState.DELIVERED] == PUSHES, (counts, log.read_text()[-3000:])
    assert counts[PushState.IN_FLIGHT] == 0
    assert counts[PushState.PENDING] == 0
    assert counts[PushState.FAILED] == 0
    received = receiver.stop()
    assert set(received) == {f"crash-{n:05d}" for n in range(PUSHES)}
    duplicates = sum(received.values()) - PUSHES
    print(f"crash test: {kills} kills, {duplicates} duplicate deliveries of {PUSHES}")
    assert duplicates <= kills * CONCURRENCY, duplicates
