"""Benchmark: durable dispatch from a SQLite outbox vs. a bare aiohttp loop, same receiver.

    python bench/dispatch.py [--pushes 20000] [--concurrency 64] [--repeat 3] [--json]
                             [--no-settle]

Both sides POST the full sample report (XML) to ``bench/receiver.py`` (uvicorn + httptools,
a bare ASGI app answering 200) running in its own process:

* baseline: a bare aiohttp loop with ``concurrency`` requests in flight, no storage;
* faxpush: the pushes are enqueued in a SQLite outbox (WAL, synchronous=FULL) first, then the
  dispatcher delivers them (claims, leases, attempt rows, group commit), with its claims and
  results in a store process as ``faxpush worker`` runs them.

Throughput is pushes/s over the delivery phase; the ratio faxpush/baseline is the figure of
merit (targets: >= 0.6, aim 0.8). A second phase enqueues at a steady rate below capacity and
measures enqueue -> 2xx recorded latency (p50, p99). Medians over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from faxpush.core.settings import Settings
from faxpush.core.targets import PushTarget
from faxpush.delivery.hooks import AttemptDetails
from faxpush.delivery.worker import delivery_engine
from faxpush.heap import settle_heap
from faxpush.storage.base import NewPush
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore
from receiver import receiver_process  # bench/receiver.py, run as a script

HERE = Path(__file__).resolve().parent
BODY = (HERE.parent / "tests" / "data" / "spec_samples" / "report-full.xml").read_bytes()
CONTENT_TYPE = "text/xml; charset=UTF-8"


async def baseline(url: str, pushes: int, concurrency: int) -> float:
    """pushes/s of a bare aiohttp loop: ``concurrency`` workers POSTing the same body."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        remaining = pushes

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.post(
                    url, data=BODY, headers={"Content-Type": CONTENT_TYPE}
                ) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"baseline got HTTP {response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return pushes / (time.perf_counter() - started)


def _settings(concurrency: int) -> Settings:
    return Settings(
        allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        concurrency=concurrency,
        per_host_concurrency=concurrency,
        claim_batch=max(concurrency * 2, 100),
        poll_interval=0.05,
    )


def _push(n: int, url: str, prefix: str) -> NewPush:
    return NewPush(
        delivery_id=f"{prefix}-{n:06d}",
        job_id=f"FJ{n:020d}",
        target=PushTarget(url=url),
        content_type=CONTENT_TYPE,
        body=BODY,
    )


async def faxpush_run(
    url: str, pushes: int, concurrency: int, db: Path, *, settle: bool = True
) -> float:
    """pushes/s of the dispatcher draining ``pushes`` pre-enqueued pushes."""
    # As `faxpush worker` opens it: claims and results in a store process.
    store = await SqliteStore.open(db, SecretCipher([generate_key()]), store_process=True)
    await store.migrate()
    now = datetime.now(UTC)
    for n in range(pushes):
        await store.enqueue(_push(n, url, "tp"), now=now)
    done = asyncio.Event()
    delivered = 0

    def count(details: AttemptDetails) -> None:
        nonlocal delivered
        delivered += 1
        if delivered >= pushes:
            done.set()

    stop = asyncio.Event()
    async with delivery_engine(store, _settings(concurrency), hooks=(count,)) as engine:
        if settle:
            settle_heap()  # as `faxpush worker` does once it has started
        started = time.perf_counter()
        task = asyncio.create_task(engine.dispatcher.run(stop))
        await asyncio.wait_for(done.wait(), 600)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
    await store.close()
    return pushes / elapsed


async def latency_run(url: str, rate: float, seconds: float, db: Path) -> tuple[float, float]:
    """p50 and p99 (ms) from enqueue to the 2xx being recorded, at a steady enqueue rate."""
    store = await SqliteStore.open(db, SecretCipher([generate_key()]), store_process=True)
    await store.migrate()
    enqueued: dict[str, float] = {}
    latencies: list[float] = []

    all_in = asyncio.Event()

    def record(details: AttemptDetails) -> None:
        latencies.append((time.perf_counter() - enqueued[details.delivery_id]) * 1000)
        if len(latencies) >= total:
            all_in.set()

    stop = asyncio.Event()
    total = int(rate * seconds)
    async with delivery_engine(store, _settings(64), hooks=(record,)) as engine:
        task = asyncio.create_task(engine.dispatcher.run(stop))
        started = time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            push = _push(n, url, "lat")
            enqueued[push.delivery_id] = time.perf_counter()
            await store.enqueue(push, now=datetime.now(UTC))
            engine.dispatcher.wake()
        await asyncio.wait_for(all_in.wait(), 60)
        stop.set()
        await task
    await store.close()
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-rate", type=float, default=1000, help="pushes/s enqueued")
    parser.add_argument("--latency-seconds", type=float, default=3)
    parser.add_argument("--json", action="store_true", help="last line: a JSON summary")
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="leave the garbage collector as it is (the worker tunes it once started)",
    )
    args = parser.parse_args()
    base_runs: list[float] = []
    ours: list[float] = []
    with receiver_process() as url, tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            base_runs.append(asyncio.run(baseline(url, args.pushes, args.concurrency)))
            db = Path(tmp) / f"outbox-{run}.db"
            ours.append(
                asyncio.run(
                    faxpush_run(url, args.pushes, args.concurrency, db, settle=not args.no_settle)
                )
            )
            print(
                f"run {run + 1}/{args.repeat}: baseline {base_runs[-1]:,.0f}/s, "
                f"faxpush {ours[-1]:,.0f}/s",
                file=sys.stderr,
            )
        p50, p99 = asyncio.run(
            latency_run(url, args.latency_rate, args.latency_seconds, Path(tmp) / "lat.db")
        )
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "pushes": args.pushes,
        "concurrency": args.concurrency,
        "pushes_per_s": round(statistics.median(ours), 1),
        "baseline_pushes_per_s": round(statistics.median(base_runs), 1),
        "ratio": round(statistics.median(ours) / statistics.median(base_runs), 3),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "latency_rate_per_s": args.latency_rate,
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    print(
        f"faxpush {summary['pushes_per_s']:,.0f} pushes/s vs bare aiohttp "
        f"{summary['baseline_pushes_per_s']:,.0f}/s: ratio {summary['ratio']:.2f}; "
        f"enqueue->2xx p50 {p50:.1f} ms, p99 {p99:.1f} ms at {args.latency_rate:.0f}/s; "
        f"peak RSS {peak_rss_mb:.0f} MB"
    )
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
