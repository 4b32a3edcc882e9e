"""Micro-benchmark of the PostgreSQL store's hot path: claim a batch, finish it, repeat.

    python bench/pg_store.py [--pushes 20000] [--batch 200] [--repeat 3]
                             [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

No network: the attempts are made up (six in seven delivered, the rest failed, spread over 20
receivers). Each run gets a scratch database on the server (the URL must be allowed to create
databases), enqueues ``--pushes`` pushes, then claims and finishes them ``--batch`` at a time
on one connection, and reports per push:

* pushes/s (wall clock; on a shared machine the least steady figure);
* the server's CPU time: of the backend process serving the connection, read from
  ``/proc/<pid>/stat``, so only when the server runs on this machine (else "-");
* the client's CPU time (this process);
* WAL written (``pg_current_wal_lsn`` before and after).

CPU per push is the figure to compare between two versions of the store: run the script with
each on ``PYTHONPATH``, alternating. Medians over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faxpush.core.targets import PushTarget
from faxpush.storage.base import AttemptRecord, AttemptResult, NewPush, Verdict, receiver_key
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.postgres import PostgresStore
from pg_scratch import scratch_postgres  # bench/pg_scratch.py, run as a script

BODY = b"<faxJobReport>" + b"x" * 1500 + b"</faxJobReport>"
LEASE = timedelta(minutes=5)
RECEIVERS = 20


def _push(n: int) -> NewPush:
    target = PushTarget(url=f"https://r{n % RECEIVERS:02d}.example.test/hook")
    return NewPush(f"d-{n:07d}", f"FJ{n:020d}", target, "text/xml", BODY)


def _result(n: int, delivery_id: str, claim_id: str, url: str, now: datetime) -> AttemptResult:
    ok = n % 7 != 0
    attempt = AttemptRecord(
        delivery_id, 1, now, 5.0 + n % 300, 200 if ok else 503, None, None, {"server": "b"}, b"ok"
    )
    return AttemptResult(
        delivery_id,
        claim_id,
        attempt,
        Verdict.DELIVERED if ok else Verdict.FAILED,
        error=None if ok else "HTTP 503",
        receiver=receiver_key(url),
    )


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a local process, or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_run(admin_url: str, pushes: int, batch: int) -> dict[str, float | None]:
    async with scratch_postgres(admin_url, "faxpush_pg_store") as url:
        store = await PostgresStore.open(url, SecretCipher([generate_key()]), max_connections=1)
        try:
            await store.migrate()
            now = datetime.now(UTC)
            for start in range(0, pushes, 500):
                chunk = range(start, min(pushes, start + 500))
                await asyncio.gather(*(store.enqueue(_push(n), now=now) for n in chunk))
            pid = await store.run("pid", lambda c, _: c.fetchval("SELECT pg_backend_pid()"))
            lsn = await store.run("wal", lambda c, _: c.fetchval("SELECT pg_current_wal_lsn()"))
            server_before, client_before = _cpu_seconds(pid), time.process_time()
            began = time.perf_counter()
            done = 0
            while True:
                now = datetime.now(UTC)
                claims = await store.claim(worker_id="bench", limit=batch, lease=LEASE, now=now)
                if not claims:
                    break
                results = [
                    _result(n, c.push.delivery_id, c.claim_id, c.push.target.url, now)
                    for n, c in enumerate(claims, start=done)
                ]
                await store.finish(results, now=now)
                done += len(claims)
            elapsed = time.perf_counter() - began
            server_after, client_after = _cpu_seconds(pid), time.process_time()
            wal = await store.run(
                "wal",
                lambda c, _: c.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)", lsn),
            )
        finally:
            await store.close()
    server = None
    if server_before is not None and server_after is not None:
        server = (server_after - server_before) / done * 1e6
    return {
        "pushes_per_s": done / elapsed,
        "server_cpu_us": server,
        "client_cpu_us": (client_after - client_before) / done * 1e6,
        "wal_bytes": float(wal) / done,
    }


def _median(values: list[float | None]) -> str:
    known = [value for value in values if value is not None]
    return f"{statistics.median(known):,.0f}" if known else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FAXPUSH_TEST_PG_DSN")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    args = parser.parse_args()
    runs = [
        asyncio.run(one_run(args.database_url, args.pushes, args.batch)) for _ in range(args.repeat)
    ]
    print("| pushes/s | server CPU µs/push | client CPU µs/push | WAL bytes/push |")
    print("|---:|---:|---:|---:|")
    columns = ("pushes_per_s", "server_cpu_us", "client_cpu_us", "wal_bytes")
    print("| " + " | ".join(_median([run[key] for run in runs]) for key in columns) + " |")


if __name__ == "__main__":
    main()
