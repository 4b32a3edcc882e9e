"""Benchmark: durable dispatch from a SQLite outbox vs. a bare aiohttp loop, same receiver.

    python bench/dispatch.py [--pushes 20000] [--concurrency 64] [--repeat 3] [--json]
                             [--loops asyncio,uvloop] [--no-settle] [--metrics]

Both sides POST the full sample report (XML) to ``bench/receiver.py`` (uvicorn + httptools,
a bare ASGI app answering 200) running in its own process:

* baseline: a bare aiohttp loop with ``concurrency`` requests in flight, no storage;
* faxpush: the pushes are enqueued in a SQLite outbox (WAL, synchronous=FULL) first, then the
  dispatcher delivers them (claims, leases, attempt rows, group commit), with its claims and
  results in a store process as ``faxpush worker`` runs them.

Throughput is pushes/s over the delivery phase; the ratio faxpush/baseline is the figure of
merit (targets: >= 0.6, aim 0.8). Each run is a pair, baseline then faxpush, on the same
event loop (``faxpush._loop``, as the worker starts it), for every loop of ``--loops`` in
turn (the first loop alternates between runs). The store process is started before the
clock. CPU per push: user + system time over the delivery phase of this process, and for
faxpush also of its store process (read from /proc: Linux). A second phase, on the worker's
default loop, enqueues at a steady rate below capacity and measures enqueue -> 2xx recorded
latency (p50, p99). Medians over ``--repeat`` runs; the JSON line keeps every run.

``--metrics`` measures what Prometheus metrics cost instead: paired runs with metrics off
and on, see ``bench/metrics_cost.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import generate_latest

from faxpush import _loop
from faxpush._observe.metrics import Metrics
from faxpush.core.settings import EventLoop, Settings
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
LOOPS = ("asyncio", "uvloop")
STORE_PROCESS = b"faxpush.storage._sqlite_process"
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Phase:
    """One delivery phase: pushes/s, and CPU µs per push."""

    pushes_per_s: float
    cpu_us: float  # this process (all its threads)
    child_cpu_us: float = 0.0  # faxpush: its store process


def _store_process_cpu() -> float:
    """User + system seconds of this process's SQLite store processes so far (Linux /proc)."""
    total = 0.0
    for listing in Path("/proc/self/task").glob("*/children"):
        for pid in listing.read_text().split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:  # gone meanwhile
                continue
            if STORE_PROCESS in command:
                fields = stat.rpartition(")")[2].split()  # the command name may hold spaces
                total += (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime, stime
    return total


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


async def baseline_phase(url: str, pushes: int, concurrency: int) -> Phase:
    cpu = time.process_time()
    rate = await baseline(url, pushes, concurrency)
    return Phase(rate, (time.process_time() - cpu) / pushes * 1e6)


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


async def _scrape_every_second(metrics: Metrics) -> None:
    while True:
        await asyncio.sleep(1.0)
        await metrics.before_scrape()
        generate_latest(metrics.registry)


async def faxpush_run(
    url: str,
    pushes: int,
    concurrency: int,
    db: Path,
    *,
    settle: bool = True,
    metrics: Metrics | None = None,
) -> Phase:
    """The dispatcher draining ``pushes`` pre-enqueued pushes (measured by ``metrics``)."""
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

    # The store process starts on the first claim; start it before the clock (as the engine
    # is built before it) with a claim for a moment before any push was due.
    lease = timedelta(seconds=60)
    await store.claim(worker_id="bench", limit=1, lease=lease, now=now - timedelta(hours=1))
    stop = asyncio.Event()
    settings = _settings(concurrency)
    async with delivery_engine(store, settings, hooks=(count,), metrics=metrics) as engine:
        if settle:
            settle_heap()  # as `faxpush worker` does once it has started
        started, cpu, store_cpu = time.perf_counter(), time.process_time(), _store_process_cpu()
        task = asyncio.create_task(engine.dispatcher.run(stop))
        scrapes = None if metrics is None else asyncio.create_task(_scrape_every_second(metrics))
        await asyncio.wait_for(done.wait(), 600)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        store_cpu = _store_process_cpu() - store_cpu
        stop.set()
        await task
        if scrapes is not None:
            scrapes.cancel()
    await store.close()
    return Phase(pushes / elapsed, cpu / pushes * 1e6, store_cpu / pushes * 1e6)


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


def _ratios(base: list[Phase], ours: list[Phase]) -> list[float]:
    return [o.pushes_per_s / b.pushes_per_s for b, o in zip(base, ours, strict=True)]


def _summary(base: list[Phase], ours: list[Phase]) -> dict[str, Any]:
    """Medians of one loop's pairs, and every pair."""
    rate = statistics.median(p.pushes_per_s for p in ours)
    base_rate = statistics.median(p.pushes_per_s for p in base)
    return {
        "pushes_per_s": round(rate, 1),
        "baseline_pushes_per_s": round(base_rate, 1),
        "ratio": round(rate / base_rate, 3),
        "pair_ratio_median": round(statistics.median(_ratios(base, ours)), 3),
        "cpu_us_per_push": round(statistics.median(p.cpu_us + p.child_cpu_us for p in ours), 1),
        "worker_cpu_us_per_push": round(statistics.median(p.cpu_us for p in ours), 1),
        "store_cpu_us_per_push": round(statistics.median(p.child_cpu_us for p in ours), 1),
        "baseline_cpu_us_per_push": round(statistics.median(p.cpu_us for p in base), 1),
        "runs": [
            {
                "baseline_pushes_per_s": round(b.pushes_per_s, 1),
                "pushes_per_s": round(o.pushes_per_s, 1),
                "baseline_cpu_us_per_push": round(b.cpu_us, 1),
                "worker_cpu_us_per_push": round(o.cpu_us, 1),
                "store_cpu_us_per_push": round(o.child_cpu_us, 1),
            }
            for b, o in zip(base, ours, strict=True)
        ],
    }


def _pair(url: str, db: Path, args: argparse.Namespace, loop: EventLoop) -> tuple[Phase, Phase]:
    """The baseline, then faxpush, each on a new loop of the kind ``loop`` names."""
    pushes, concurrency = args.pushes, args.concurrency
    base = _loop.run(lambda: baseline_phase(url, pushes, concurrency), loop)
    settle = not args.no_settle
    ours = _loop.run(lambda: faxpush_run(url, pushes, concurrency, db, settle=settle), loop)
    return base, ours


def _loops(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(LOOPS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"loops are {', '.join(LOOPS)}; not {unknown}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--loops", type=_loops, default=list(LOOPS), help="event loops, comma-separated"
    )
    parser.add_argument("--latency-rate", type=float, default=1000, help="pushes/s enqueued")
    parser.add_argument("--latency-seconds", type=float, default=3)
    parser.add_argument("--json", action="store_true", help="last line: a JSON summary")
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="leave the garbage collector as it is (the worker tunes it once started)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="measure the cost of Prometheus metrics (paired runs, off and on) instead",
    )
    args = parser.parse_args()
    if args.metrics:
        from metrics_cost import report_metrics_cost  # bench/metrics_cost.py

        report_metrics_cost(args)
        return
    default = _loop.loop_name(EventLoop.AUTO)  # what `faxpush worker` runs on here
    loops: list[str] = args.loops
    base: dict[str, list[Phase]] = {name: [] for name in loops}
    ours: dict[str, list[Phase]] = {name: [] for name in loops}
    with receiver_process() as url, tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            for name in loops[run % len(loops) :] + loops[: run % len(loops)]:
                db = Path(tmp) / f"outbox-{run}-{name}.db"
                b, o = _pair(url, db, args, EventLoop(name))
                base[name].append(b)
                ours[name].append(o)
                print(
                    f"run {run + 1}/{args.repeat} {name:7}: baseline {b.pushes_per_s:,.0f}/s "
                    f"({b.cpu_us:.0f} us CPU/push), faxpush {o.pushes_per_s:,.0f}/s "
                    f"({o.cpu_us + o.child_cpu_us:.0f} us CPU/push: worker {o.cpu_us:.0f} + "
                    f"store process {o.child_cpu_us:.0f}), ratio "
                    f"{o.pushes_per_s / b.pushes_per_s:.2f}",
                    file=sys.stderr,
                )
        p50, p99 = _loop.run(
            lambda: latency_run(url, args.latency_rate, args.latency_seconds, Path(tmp) / "lat.db"),
            EventLoop.AUTO,
        )
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_loop = {name: _summary(base[name], ours[name]) for name in loops}
    main_loop = default if default in per_loop else loops[0]
    headline = per_loop[main_loop]
    summary = {
        "pushes": args.pushes,
        "concurrency": args.concurrency,
        "loop": main_loop,  # the loop of the figures at this level
        **{key: value for key, value in headline.items() if key != "runs"},
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "latency_rate_per_s": args.latency_rate,
        "latency_loop": default,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "loops": per_loop,
    }
    for name, figures in per_loop.items():
        print(
            f"{name:7}: faxpush {figures['pushes_per_s']:,.0f} pushes/s vs bare aiohttp "
            f"{figures['baseline_pushes_per_s']:,.0f}/s: ratio {figures['ratio']:.2f}; "
            f"CPU per push {figures['cpu_us_per_push']:.0f} us (worker "
            f"{figures['worker_cpu_us_per_push']:.0f} + store process "
            f"{figures['store_cpu_us_per_push']:.0f}) vs "
            f"{figures['baseline_cpu_us_per_push']:.0f} us"
        )
    print(
        f"enqueue->2xx p50 {p50:.1f} ms, p99 {p99:.1f} ms at {args.latency_rate:.0f}/s "
        f"({default}); peak RSS {peak_rss_mb:.0f} MB"
    )
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
