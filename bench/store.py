"""Micro-benchmark of the SQLite store's hot path: claim a batch, finish it, repeat.

    python bench/store.py [--pushes 6000] [--batch 64] [--repeat 3]

No network: the attempts are made up. Three phases, each on a fresh outbox file:

* enqueue: one push per call, sequentially (µs per enqueue);
* idle: claim ``batch`` pushes, finish them, until the outbox is empty, with nothing else on
  the event loop (ms per claim and per finish);
* busy: the same while other tasks keep the event loop about half busy (each runs 0.1 ms of
  Python, then sleeps 1 ms), as the dispatcher's HTTP work does;
* saturated: other tasks keep the event loop 100 % busy (0.2 ms of Python, then yield); only
  the first 20 batches are timed, as this is slow.

Thread hops cost most on a busy loop, and so does every wait of the database thread for the
GIL.

Medians over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faxpush.core.targets import PushTarget
from faxpush.storage.base import AttemptRecord, AttemptResult, NewPush, Verdict
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

BODY = b"<faxJobReport>" + b"x" * 1500 + b"</faxJobReport>"
LEASE = timedelta(minutes=5)


def _push(n: int) -> NewPush:
    target = PushTarget(url="http://127.0.0.1:9/hook")
    return NewPush(f"d-{n:06d}", f"FJ{n:020d}", target, "text/xml", BODY)


def _result(delivery_id: str, claim_id: str, now: datetime) -> AttemptResult:
    attempt = AttemptRecord(delivery_id, 1, now, 7.5, 200, None, None, {"server": "b"}, b"ok")
    return AttemptResult(delivery_id, claim_id, attempt, Verdict.DELIVERED)


async def _burn(stop: asyncio.Event, burn_s: float, pause_s: float) -> None:
    while not stop.is_set():
        until = time.perf_counter() + burn_s
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(pause_s)


LOADS = {  # name: (burning tasks, burn s, pause s, batches timed)
    "idle": (0, 0.0, 0.0, None),
    "busy": (8, 0.0001, 0.001, None),
    "saturated": (16, 0.0002, 0.0, 20),
}


async def one_run(db: Path, pushes: int, batch: int, load: str) -> dict[str, float]:
    store = await SqliteStore.open(db, SecretCipher([generate_key()]))
    await store.migrate()
    now = datetime.now(UTC)
    started = time.perf_counter()
    for n in range(pushes):
        await store.enqueue(_push(n), now=now)
    enqueue_us = (time.perf_counter() - started) / pushes * 1e6
    stop = asyncio.Event()
    tasks, burn_s, pause_s, max_batches = LOADS[load]
    burners = [asyncio.create_task(_burn(stop, burn_s, pause_s)) for _ in range(tasks)]
    claim_s: list[float] = []
    finish_s: list[float] = []
    started = time.perf_counter()
    drained = 0
    while max_batches is None or len(claim_s) < max_batches:
        t0 = time.perf_counter()
        claimed = await store.claim(worker_id="w", limit=batch, lease=LEASE, now=now)
        claim_s.append(time.perf_counter() - t0)
        if not claimed:
            break
        results = [_result(c.push.delivery_id, c.claim_id, now) for c in claimed]
        t0 = time.perf_counter()
        await store.finish(results, now=now)
        finish_s.append(time.perf_counter() - t0)
        drained += len(claimed)
    drain_s = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*burners)
    await store.close()
    return {
        "enqueue_us": enqueue_us,
        "claim_ms": statistics.mean(claim_s) * 1e3,
        "finish_ms": statistics.mean(finish_s) * 1e3,
        "pushes_per_s": drained / drain_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for load in LOADS:
            runs = [
                asyncio.run(one_run(Path(tmp) / f"{load}{n}.db", args.pushes, args.batch, load))
                for n in range(args.repeat)
            ]
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(
                f"{load} loop: enqueue {median['enqueue_us']:.0f} µs, "
                f"claim({args.batch}) {median['claim_ms']:.2f} ms, "
                f"finish({args.batch}) {median['finish_ms']:.2f} ms, "
                f"claim+finish drain {median['pushes_per_s']:,.0f} pushes/s"
            )


if __name__ == "__main__":
    main()
