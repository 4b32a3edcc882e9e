"""Where the dispatcher's time goes: one batch loop, with faxpush's parts swapped in one by one.

    python bench/dispatch_reference.py [--pushes 20000] [--batch 128] [--json]

Every variant delivers ``--pushes`` pushes of the full sample report to ``bench/receiver.py``
in the same way: lease a batch, post all of it concurrently (aiohttp, 64 connections),
record the results in one transaction, repeat. What differs is which code does the work:

* ``bare``: aiohttp alone, 64 workers, no storage (the ratio baseline of bench/dispatch.py);
* ``naive``: the "naive durable loop" the dispatcher's issue describes: ``sqlite3`` on the
  event loop's thread (WAL, synchronous=FULL), a minimal table, raw rows;
* ``store``: faxpush's SQLite store (claim, finish), verdicts (``judge_attempt``) and
  ``send_push``;
* ``store-raw-post``: the same, but posting with bare ``session.post``.

It prints pushes/s and the event-loop thread's CPU per push for each, so the cost of each
layer can be read off one run (figures in docs/benchmarks.md). Not a target, a diagnosis.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from dispatch import BODY, CONTENT_TYPE, _push, baseline  # bench/dispatch.py
from faxpush.core.settings import Settings
from faxpush.delivery.auth.digest import DigestNonceCache
from faxpush.delivery.auth.token_cache import TokenCache
from faxpush.delivery.http import session_from_settings
from faxpush.delivery.judge import SendOutcome, judge_attempt
from faxpush.delivery.send import SendResult
from faxpush.delivery.worker import make_sender
from faxpush.heap import settle_heap
from faxpush.storage.base import AttemptResult, ClaimedPush, PushRecord
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.memory import MemoryStore
from faxpush.storage.sqlite import SqliteStore
from receiver import receiver_process  # bench/receiver.py

CONCURRENCY = 64
VARIANTS = ("bare", "naive", "store", "store-raw-post")


Phase = tuple[float, float]  # wall seconds and event-loop-thread CPU seconds of delivery


def _phase_since(started: float, cpu: float) -> Phase:
    return time.perf_counter() - started, time.thread_time() - cpu


async def _naive(url: str, pushes: int, batch: int, workdir: Path) -> Phase:
    conn = sqlite3.connect(workdir / "naive.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE pushes (id INTEGER PRIMARY KEY, delivery_id TEXT UNIQUE, url TEXT, "
        "body BLOB, state TEXT, attempts INTEGER, claim TEXT, due INTEGER)"
    )
    conn.execute("CREATE INDEX pushes_due ON pushes (state, due)")
    conn.execute(
        "CREATE TABLE attempts (id INTEGER PRIMARY KEY, delivery_id TEXT, status INTEGER, "
        "started REAL, duration REAL)"
    )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO pushes (delivery_id, url, body, state, attempts, due) "
        "VALUES (?, ?, ?, 'pending', 0, 0)",
        ((f"naive-{n}", url, BODY) for n in range(pushes)),
    )
    conn.execute("COMMIT")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def post(row: tuple[int, str, str, bytes]) -> tuple[str, int, float, float]:
            started = time.time()
            headers = {"Content-Type": CONTENT_TYPE, "Faxpush-Delivery-Id": row[1]}
            async with session.post(row[2], data=row[3], headers=headers) as response:
                await response.read()
                return row[1], response.status, started, time.time() - started

        done, started, cpu = 0, time.perf_counter(), time.thread_time()
        while done < pushes:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(
                "UPDATE pushes SET state = 'in_flight', claim = ? WHERE id IN (SELECT id "
                "FROM pushes WHERE state = 'pending' AND due <= ? ORDER BY due, id LIMIT ?) "
                "RETURNING id, delivery_id, url, body",
                (uuid.uuid4().hex, time.time(), batch),
            ).fetchall()
            conn.execute("COMMIT")
            results = await asyncio.gather(*(post(row) for row in rows))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO attempts (delivery_id, status, started, duration) VALUES (?, ?, ?, ?)",
                results,
            )
            conn.executemany(
                "UPDATE pushes SET state = 'delivered', attempts = attempts + 1, claim = NULL "
                "WHERE delivery_id = ?",
                [(result[0],) for result in results],
            )
            conn.execute("COMMIT")
            done += len(rows)
        phase = _phase_since(started, cpu)
    conn.close()
    return phase


async def _through_store(
    url: str, pushes: int, batch: int, workdir: Path, *, raw_post: bool
) -> Phase:
    settings = Settings(
        allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        concurrency=CONCURRENCY,
        per_host_concurrency=CONCURRENCY,
    )
    store = await SqliteStore.open(workdir / f"store-{raw_post}.db", SecretCipher([generate_key()]))
    await store.migrate()
    now = datetime.now(UTC)
    for n in range(pushes):
        await store.enqueue(_push(n, url, "ref"), now=now)
    session = session_from_settings(settings)
    token_cache = TokenCache(MemoryStore(), margin=timedelta(seconds=60))
    send_push = make_sender(
        session, settings, token_cache=token_cache, digest_cache=DigestNonceCache()
    )

    async def bare_post(push: PushRecord) -> SendOutcome:
        headers = {"Content-Type": push.content_type, "Faxpush-Delivery-Id": push.delivery_id}
        async with session.post(push.target.url, data=push.body, headers=headers) as response:
            await response.read()
            return SendResult(response.status, None, None, dict(response.headers), b"")

    send: Callable[[PushRecord], Awaitable[SendOutcome]] = bare_post if raw_post else send_push
    schedule = settings.retry_schedule

    async def deliver(claim: ClaimedPush) -> AttemptResult:
        started = datetime.now(UTC)
        outcome = await send(claim.push)
        now = datetime.now(UTC)
        return judge_attempt(claim, outcome, started=started, now=now, schedule=schedule)[0]

    try:
        done, started, cpu = 0, time.perf_counter(), time.thread_time()
        lease = timedelta(seconds=60)
        while done < pushes:
            claims = await store.claim(
                worker_id="reference", limit=batch, lease=lease, now=datetime.now(UTC)
            )
            results = await asyncio.gather(*(deliver(claim) for claim in claims))
            await store.finish(results, now=datetime.now(UTC))
            done += len(claims)
        return _phase_since(started, cpu)
    finally:
        await session.close()
        await store.close()


async def measure(
    variant: str, url: str, pushes: int, batch: int, workdir: Path
) -> dict[str, float]:
    """pushes/s and event-loop-thread CPU µs per push of one variant (set-up excluded)."""
    if variant == "bare":
        cpu = time.thread_time()
        rate = await baseline(url, pushes, CONCURRENCY)
        return {"pushes_per_s": rate, "loop_cpu_us": (time.thread_time() - cpu) / pushes * 1e6}
    if variant == "naive":
        elapsed, cpu = await _naive(url, pushes, batch, workdir)
    else:
        raw_post = variant == "store-raw-post"
        elapsed, cpu = await _through_store(url, pushes, batch, workdir, raw_post=raw_post)
    return {"pushes_per_s": pushes / elapsed, "loop_cpu_us": cpu / pushes * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--json", action="store_true", help="last line: a JSON summary")
    args = parser.parse_args()
    settle_heap()  # every variant runs in a tuned process, as the worker does
    results: dict[str, dict[str, float]] = {}
    with receiver_process() as url, tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            results[variant] = asyncio.run(
                measure(variant, url, args.pushes, args.batch, Path(tmp))
            )
            r = results[variant]
            print(
                f"{variant:15} {r['pushes_per_s']:8,.0f} pushes/s   "
                f"event-loop thread {r['loop_cpu_us']:5.0f} us CPU per push",
                flush=True,
            )
    if args.json:
        print(json.dumps({k: {m: round(v, 1) for m, v in r.items()} for k, r in results.items()}))


if __name__ == "__main__":
    main()
