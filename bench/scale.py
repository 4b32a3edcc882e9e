"""Benchmark: how delivery throughput scales with worker processes on one PostgreSQL queue.

    python bench/scale.py [--pushes 20000] [--workers 1,2,4] [--repeat 3] [--png docs/scaling.png]

Each configuration gets a fresh outbox filled with ``--pushes`` copies of the full sample
report (XML), then ``faxpush worker`` processes (``--concurrency`` sends each) deliver them
to ``bench/receiver.py`` (uvicorn + httptools, its own process). Throughput is pushes/s from
the first to the last delivery, read off the outbox; the receiver's counts confirm that every
push arrived. Configurations: 1, 2 and 4 workers on PostgreSQL, and 1 worker on SQLite for
comparison; the median of ``--repeat`` runs each. Prints a Markdown table and draws it as a
PNG (matplotlib).

``--pg-dsn`` (default: FAXPUSH_TEST_PG_DSN, else postgresql://postgres@127.0.0.1:5432/postgres)
must be allowed to create databases; each run uses a scratch database, dropped afterwards.
All processes share one machine, so the numbers show where that machine saturates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush, PushState, Store
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.postgres import PostgresStore
from faxpush.storage.sqlite import SqliteStore
from pg_scratch import scratch_postgres  # bench/pg_scratch.py, run as a script
from receiver import receiver_process  # bench/receiver.py, run as a script

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BODY = (REPO / "tests" / "data" / "spec_samples" / "report-full.xml").read_bytes()
CONTENT_TYPE = "text/xml; charset=UTF-8"
DEFAULT_DSN = (
    os.environ.get("FAXPUSH_TEST_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"
)
RUN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Result:
    backend: str
    workers: int
    pushes: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.pushes / self.seconds


async def fill(store: Store, url: str, pushes: int, tag: str) -> None:
    now = datetime.now(UTC)
    target = PushTarget(url=url)
    for start in range(0, pushes, 500):
        await asyncio.gather(
            *(
                store.enqueue(
                    NewPush(f"{tag}-{n}", f"job-{n}", target, CONTENT_TYPE, BODY), now=now
                )
                for n in range(start, min(start + 500, pushes))
            )
        )


async def deliver(
    store: Store, database_url: str, key: str, workers: int, pushes: int, concurrency: int
) -> float:
    """Start ``workers`` worker processes; seconds from the first to the last delivery."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env.update(
        FAXPUSH_DATABASE_URL=database_url,
        FAXPUSH_SECRET_KEY=key,
        FAXPUSH_ALLOWED_NETWORKS="127.0.0.0/8",
        FAXPUSH_CONCURRENCY=str(concurrency),
        FAXPUSH_PER_HOST_CONCURRENCY=str(concurrency),
        FAXPUSH_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "faxpush.cli.main", "worker"]
    procs = [
        await asyncio.create_subprocess_exec(*command, cwd=REPO, env=env) for _ in range(workers)
    ]
    first = last = None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while True:
            delivered = (await store.count_by_state())[PushState.DELIVERED]
            now = time.monotonic()
            if delivered and first is None:
                first = (now, delivered)
            if delivered >= pushes:
                last = now
                break
            if now > deadline or any(p.returncode is not None for p in procs):
                raise SystemExit(f"delivery stalled at {delivered}/{pushes}")
            await asyncio.sleep(0.05)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 30)
    assert first is not None
    # the first poll that saw deliveries missed those made before it: count from there
    return (last - first[0]) * pushes / (pushes - first[1])


async def run_one(
    backend: str, workers: int, args: argparse.Namespace, url: str, tmp: Path
) -> Result:
    key = generate_key()
    cipher = SecretCipher([key])
    tag = f"{backend}{workers}-{secrets.token_hex(3)}"
    if backend == "postgresql":
        async with scratch_postgres(args.pg_dsn, "faxpush_bench") as database_url:
            store: Store = await PostgresStore.open(database_url, cipher)
            try:
                await store.migrate()
                await fill(store, url, args.pushes, tag)
                seconds = await deliver(
                    store, database_url, key, workers, args.pushes, args.concurrency
                )
            finally:
                await store.close()
    else:
        path = tmp / f"{tag}.db"
        store = await SqliteStore.open(path, cipher)
        try:
            await store.migrate()
            await fill(store, url, args.pushes, tag)
            seconds = await deliver(
                store, f"sqlite:///{path}", key, workers, args.pushes, args.concurrency
            )
        finally:
            await store.close()
    result = Result(backend, workers, args.pushes, seconds)
    print(f"{backend:10} {workers} worker(s): {result.rate:8,.0f} pushes/s", file=sys.stderr)
    return result


def table(results: list[Result]) -> str:
    base = next((r.rate for r in results if r.backend == "postgresql" and r.workers == 1), None)
    lines = [
        "| backend | worker processes | pushes/s | vs. 1 PostgreSQL worker |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        ratio = f"{r.rate / base:.2f}x" if base else "-"
        lines.append(f"| {r.backend} | {r.workers} | {r.rate:,.0f} | {ratio} |")
    return "\n".join(lines)


def plot(results: list[Result], png: Path, pushes: int, concurrency: int) -> None:
    import matplotlib  # only needed for the picture

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.backend}\n{r.workers} worker{'s' if r.workers > 1 else ''}" for r in results]
    colors = ["#336699" if r.backend == "postgresql" else "#999999" for r in results]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    bars = ax.bar(labels, [r.rate for r in results], color=colors)
    ax.bar_label(bars, labels=[f"{r.rate:,.0f}" for r in results])
    ax.set_ylabel("pushes delivered per second")
    ax.set_title(
        f"faxpush delivery throughput ({pushes:,} pushes, {concurrency} sends per worker,\n"
        f"{os.cpu_count()} CPU cores shared by workers, database and receiver)"
    )
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)


async def main_async(args: argparse.Namespace) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with receiver_process(tmp / "stats.json") as url:
            configs = [("postgresql", workers) for workers in args.workers] + [("sqlite", 1)]
            for backend, workers in configs:
                runs = [await run_one(backend, workers, args, url, tmp) for _ in range(args.repeat)]
                results.append(sorted(runs, key=lambda r: r.rate)[len(runs) // 2])
        counts = json.loads((tmp / "stats.json").read_text())
    expected = args.pushes * len(results) * args.repeat
    if len(counts) != expected:
        raise SystemExit(f"the receiver saw {len(counts)} distinct pushes, expected {expected}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2,4", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (median)")
    parser.add_argument("--pg-dsn", default=DEFAULT_DSN)
    parser.add_argument("--png", type=Path, default=REPO / "docs" / "scaling.png")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {args.pushes:,} pushes per run\n"
    )
    print(table(results))
    if args.json:
        print(json.dumps([r.__dict__ | {"rate": r.rate} for r in results]))
    plot(results, args.png, args.pushes, args.concurrency)
    print(f"\nplot: {args.png}", file=sys.stderr)


if __name__ == "__main__":
    main()
