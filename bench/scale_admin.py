"""Operator queries at scale: a filtered page of pushes and the receivers table over a big outbox.

    python bench/scale_admin.py [--pushes 1000000] [--attempts 3] [--receivers 100] [--runs 60]
    python bench/scale_admin.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

The outbox is made by the store itself (``migrate``), then filled with set-based SQL, one
statement per table, with no Python loop over rows: on SQLite a recursive CTE counts 0..n-1
and ``INSERT … SELECT`` derives every column from the counter; on PostgreSQL
``generate_series`` does the counting. The indexes of ``pushes`` and ``attempts`` are dropped
for the load and created again afterwards (faster than keeping them up to date row by row);
PostgreSQL then gets ``VACUUM ANALYZE``, as autovacuum would give it. SQLite gets no
``ANALYZE`` (the store does not run it; its queries name their index).

The data: ``--pushes`` pushes created one every 2.6 s over 30 days, two per job, spread over
``--receivers`` receivers of which one takes 30 % of the pushes; 90 % delivered, 5 % failed,
1 % cancelled, 3.5 % pending, 0.5 % in flight; a 2 KB body each (the full sample report);
``--attempts`` attempts per push (status, duration, headers, a small body); per-receiver
counters for the last two days (one row per receiver and 5-minute bucket) and a health row
per receiver, as finish keeps them.

Then, through the store's own API (``find_pushes``, ``receiver_stats``, as the operator API
calls them), each query runs 3 times to warm up and ``--runs`` times timed; p50 and p95 are
printed as a Markdown table, and a JSON summary as the last line. Aims: a list page p95
<= 50 ms, the receivers table p95 <= 100 ms. The web console's pages are timed the same way
(its ASGI app called in process after a login with an API token: the server's time without
the network), aim p95 <= 150 ms.

With ``--database-url`` the PostgreSQL store is measured too: the URL must be allowed to create
databases; the run uses a scratch database on that server, dropped afterwards. The SQLite file
goes to a temporary directory (``--keep PATH`` keeps it there instead, and reuses it when it
exists already).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from faxpush.console import ConsoleServices, build_console_app
from faxpush.storage.base import PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.operator import OperatorStore, PageCursor, PushFilter, TokenScope
from faxpush.storage.postgres import PostgresStore
from faxpush.storage.sqlite import SqliteStore
from pg_scratch import scratch_postgres  # bench/pg_scratch.py, run as a script

ROOT = Path(__file__).resolve().parents[1]
BODY = (ROOT / "tests" / "data" / "spec_samples" / "report-full.xml").read_bytes()
NOW = datetime(2026, 12, 1, tzinfo=UTC)  # the newest push is created just before
SPAN = timedelta(days=30)
BUCKET_US = 300_000_000
LIMIT = 50

# Columns derived from the counter i (and p.*, for attempts), shared by both dialects: the
# same data on each. :start/:step in microseconds; times are converted per dialect.
_RECEIVER = "CASE WHEN i % 10 < 3 THEN 0 ELSE ((i * 2246822519) % 4294967296) % {receivers} END"
_ROLL = "((i * 2654435761) % 4294967296) % 1000"  # a multiplicative hash: no tie to r
_STATE = (
    "CASE WHEN roll < 900 THEN 'delivered' WHEN roll < 950 THEN 'failed' "
    "WHEN roll < 960 THEN 'cancelled' WHEN roll < 995 THEN 'pending' ELSE 'in_flight' END"
)

SQLITE_PUSHES = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {pushes}),
base AS (
    SELECT i, {start} + i * {step} AS created, {roll} AS roll, {receiver} AS r FROM n
),
shaped AS (SELECT base.*, {state} AS state FROM base)
INSERT INTO pushes (
    seq, delivery_id, job_id, customer_number, target_url, receiver, target_auth,
    target_client_auth, content_type, retry_client_errors, state, attempts, next_attempt_at,
    claimed_until, claim_id, last_error, created_at, updated_at
)
SELECT i + 1, printf('d%08d', i), printf('job-%07d', i / 2), '4711',
       printf('https://r%03d.example.test/hook', r), printf('https://r%03d.example.test:443', r),
       'none', 'client_secret_basic', 'text/xml; charset=UTF-8', 0, state, {attempts},
       created + 60000000,
       CASE WHEN state = 'in_flight' THEN created + 30000000 END,
       CASE WHEN state = 'in_flight' THEN 'bench:claim' END,
       CASE WHEN state IN ('failed', 'pending') THEN 'HTTP 503' END,
       created, created + {attempts} * 1000000
FROM shaped
"""
SQLITE_BODIES = "INSERT INTO push_bodies (seq, body) SELECT seq, ? FROM pushes"
SQLITE_ATTEMPTS = """
WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {attempts})
INSERT INTO attempts (
    delivery_id, number, started_at, duration_ms, http_status, error_class, error_message,
    response_headers, response_body, auth_steps
)
SELECT p.delivery_id, k.n, p.created_at + k.n * 1000000, (p.seq * 37 + k.n * 11) % 900 + 3.5,
       CASE WHEN k.n = {attempts} AND p.state = 'delivered' THEN 200 ELSE 503 END, NULL, NULL,
       '{{"Content-Type": "text/plain"}}', X'6F6B', '[]'
FROM pushes AS p CROSS JOIN k ORDER BY p.seq, k.n
"""
SQLITE_COUNTS = """
WITH RECURSIVE b(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM b WHERE k + 1 < 576),
r(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM r WHERE j + 1 < {receivers}),
c AS (SELECT j, k, 10 + (j * 31 + k * 17) % 50 AS a FROM r, b)
INSERT INTO receiver_counts
SELECT printf('https://r%03d.example.test:443', j), {last_bucket} - k * {bucket}, a, a - a / 10,
       0, 0, a / 4, a / 4, a / 4, 0, 0, a - 3 * (a / 4) - 1, 0, 0, 0, 0, 1
FROM c
"""
SQLITE_HEALTH = """
INSERT INTO receiver_health
SELECT DISTINCT receiver, 0, 'HTTP 503', {now} - 60000000, {now} - 1000000 FROM receiver_counts
"""


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    run: Callable[[OperatorStore], Awaitable[object]]
    kind: str  # "page" or "receivers"


def cursor_at(fraction: float, pushes: int) -> PageCursor:
    """The cursor just after the push ``fraction`` of the way from the newest."""
    i = int(pushes * (1 - fraction))
    step = SPAN / pushes
    return PageCursor(NOW - SPAN + step * i, f"d{i:08d}")


def cases(pushes: int) -> list[Case]:
    big, small = "https://r000.example.test:443", "https://r042.example.test:443"

    def page(
        where: PushFilter, before: PageCursor | None = None
    ) -> Callable[..., Awaitable[object]]:
        return lambda store: store.find_pushes(where, limit=LIMIT, before=before)

    return [
        Case("newest, no filter", page(PushFilter()), "page"),
        Case("state=failed", page(PushFilter(state=PushState.FAILED)), "page"),
        Case(
            "receiver (30 % of pushes) + state=delivered",
            page(PushFilter(receiver=big, state=PushState.DELIVERED)),
            "page",
        ),
        Case(
            "receiver + state=pending",
            page(PushFilter(receiver=small, state=PushState.PENDING)),
            "page",
        ),
        Case("job_id", page(PushFilter(job_id=f"job-{pushes // 4:07d}")), "page"),
        Case(
            "receiver + since (last day)",
            page(PushFilter(receiver=small, since=NOW - timedelta(days=1))),
            "page",
        ),
        Case(
            "deep (50 %): state=delivered",
            page(PushFilter(state=PushState.DELIVERED), cursor_at(0.5, pushes)),
            "page",
        ),
        Case(
            "deep (90 %): receiver + state=failed",
            page(PushFilter(receiver=small, state=PushState.FAILED), cursor_at(0.9, pushes)),
            "page",
        ),
        Case("deep (99 %): no filter", page(PushFilter(), cursor_at(0.99, pushes)), "page"),
        Case("receivers table (all)", lambda s: s.receiver_stats(now=NOW), "receivers"),
        Case(
            "receivers table (one)",
            lambda s: s.receiver_stats(now=NOW, receiver=big),
            "receivers",
        ),
    ]


def params(args: argparse.Namespace) -> dict[str, object]:
    step = int(SPAN.total_seconds() * 1_000_000) // args.pushes
    start = int((NOW - SPAN).timestamp() * 1_000_000)
    now_us = int(NOW.timestamp() * 1_000_000)
    return {
        "pushes": args.pushes,
        "attempts": args.attempts,
        "receivers": args.receivers,
        "start": start,
        "step": step,
        "now": now_us,
        "bucket": BUCKET_US,
        "last_bucket": now_us - now_us % BUCKET_US,
        "roll": _ROLL,
        "receiver": _RECEIVER.format(receivers=args.receivers),
        "state": _STATE,
    }


def fill_sqlite(path: Path, args: argparse.Namespace) -> None:
    values = params(args)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('pushes', 'attempts')"
        ).fetchall()
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        timed("pushes", lambda: conn.execute(SQLITE_PUSHES.format(**values)))
        timed("bodies", lambda: conn.execute(SQLITE_BODIES, (BODY,)))
        timed("attempts", lambda: conn.execute(SQLITE_ATTEMPTS.format(**values)))
        timed("counters", lambda: conn.execute(SQLITE_COUNTS.format(**values)))
        conn.execute(SQLITE_HEALTH.format(**values))
        timed("indexes", lambda: [conn.execute(sql) for _, sql in indexes])
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


PG_PUSHES = """
INSERT INTO pushes (
    delivery_id, job_id, customer_number, target_url, receiver, target_auth,
    target_client_auth, content_type, body, retry_client_errors, state, attempts,
    next_attempt_at, claimed_until, claim_id, last_error, created_at, updated_at
)
SELECT 'd' || lpad(i::text, 8, '0'), 'job-' || lpad((i / 2)::text, 7, '0'), '4711',
       'https://r' || lpad(r::text, 3, '0') || '.example.test/hook',
       'https://r' || lpad(r::text, 3, '0') || '.example.test:443',
       'none', 'client_secret_basic', 'text/xml; charset=UTF-8', $1, false, state, {attempts},
       created + interval '60 seconds',
       CASE WHEN state = 'in_flight' THEN created + interval '30 seconds' END,
       CASE WHEN state = 'in_flight' THEN 'bench:claim' END,
       CASE WHEN state IN ('failed', 'pending') THEN 'HTTP 503' END,
       created, created + {attempts} * interval '1 second'
FROM (
    SELECT i, created, r, {state} AS state
    FROM (
        SELECT i, to_timestamp(({start} + i * {step}) / 1e6) AS created, {roll} AS roll,
               {receiver} AS r
        FROM generate_series(0::bigint, {pushes} - 1) AS i
    ) AS base
) AS shaped
ORDER BY i
"""
PG_ATTEMPTS = """
INSERT INTO attempts (
    delivery_id, number, started_at, duration_ms, http_status, response_headers,
    response_body, auth_steps
)
SELECT p.delivery_id, k, p.created_at + k * interval '1 second',
       (p.seq * 37 + k * 11) % 900 + 3.5,
       CASE WHEN k = {attempts} AND p.state = 'delivered' THEN 200 ELSE 503 END,
       '{{"Content-Type": "text/plain"}}', '\\x6f6b', '[]'
FROM pushes AS p CROSS JOIN generate_series(1, {attempts}) AS k ORDER BY p.seq, k
"""
PG_COUNTS = """
INSERT INTO receiver_counts
SELECT 'https://r' || lpad(j::text, 3, '0') || '.example.test:443',
       to_timestamp(({last_bucket} - k * {bucket}) / 1e6), a, a - a / 10,
       0, 0, a / 4, a / 4, a / 4, 0, 0, a - 3 * (a / 4) - 1, 0, 0, 0, 0, 1
FROM (
    SELECT j, k, 10 + (j * 31 + k * 17) % 50 AS a
    FROM generate_series(0, {receivers} - 1) AS j, generate_series(0::bigint, 575) AS k
) AS c
"""
PG_HEALTH = """
INSERT INTO receiver_health
SELECT DISTINCT receiver, 0, 'HTTP 503', to_timestamp({now} / 1e6) - interval '1 minute',
       to_timestamp({now} / 1e6) - interval '1 second'
FROM receiver_counts
"""


async def fill_postgres(url: str, args: argparse.Namespace) -> None:
    values = params(args)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        indexes = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes AS i"
            " LEFT JOIN pg_constraint AS c ON c.conname = i.indexname"
            " WHERE i.tablename IN ('pushes', 'attempts') AND c.conname IS NULL"
        )
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        await atimed("pushes", conn.execute(PG_PUSHES.format(**values), BODY))
        await atimed("attempts", conn.execute(PG_ATTEMPTS.format(**values)))
        await atimed("counters", conn.execute(PG_COUNTS.format(**values)))
        await conn.execute(PG_HEALTH.format(**values))
        for row in indexes:
            await atimed(f"index {row['indexname']}", conn.execute(row["indexdef"]))
        await atimed("vacuum analyze", conn.execute("VACUUM ANALYZE"))
    finally:
        await conn.close()


def timed(what: str, step: Callable[[], object]) -> None:
    began = time.perf_counter()
    step()
    print(f"  {what}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)


async def atimed(what: str, step: Awaitable[object]) -> None:
    began = time.perf_counter()
    await step
    print(f"  {what}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)


async def asgi_call(
    app: Any, method: str, path: str, *, body: bytes = b"", cookie: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """One request to an ASGI app in process: status, headers and body of its answer."""
    target, _, query = path.partition("?")
    headers = [(b"host", b"bench"), (b"cookie", cookie.encode())]
    if body:
        headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    scope = {
        "type": "http",
        "method": method,
        "path": target,
        "raw_path": target.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "scheme": "http",
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    answer = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], answer, b"".join(m.get("body", b"") for m in sent[1:])


async def console_cases(store: OperatorStore, pushes: int) -> tuple[Any, str, list[Case]]:
    """The console over ``store``, a session cookie, and one case per page."""
    token = "fxp_" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    await store.create_api_token(f"bench-{secrets.token_hex(4)}", TokenScope.READ, digest, now=NOW)
    app = build_console_app(
        ConsoleServices(store=store, session_key=secrets.token_bytes(32), clock=lambda: NOW)
    )
    status, headers, _ = await asgi_call(app, "POST", "/login", body=f"token={token}".encode())
    if status != 303:
        raise SystemExit(f"console login failed: {status}")
    cookie = headers["set-cookie"].split(";", 1)[0]
    big, small = "https%3A%2F%2Fr000.example.test%3A443", "https%3A%2F%2Fr042.example.test%3A443"
    deep = PageCursor(NOW - SPAN + SPAN / pushes * int(pushes * 0.1), f"d{int(pushes * 0.1):08d}")
    cursor = (
        base64.urlsafe_b64encode(
            json.dumps([deep.created_at.isoformat(), deep.delivery_id]).encode()
        )
        .decode()
        .rstrip("=")
    )
    pages = {
        "console: overview": "/",
        "console: pushes": "/pushes",
        "console: pushes live rows": "/pushes?fragment=rows",
        "console: pushes state=failed": "/pushes?state=failed",
        "console: pushes receiver + delivered": f"/pushes?receiver={big}&state=delivered",
        "console: pushes receiver + pending": f"/pushes?receiver={small}&state=pending",
        "console: pushes deep (90 %)": f"/pushes?cursor={cursor}",
        "console: one push": f"/pushes/d{pushes // 3:08d}",
        "console: receivers": "/receivers",
        "console: accounts": "/accounts",
    }

    def get(path: str) -> Callable[[OperatorStore], Awaitable[object]]:
        async def run(_store: OperatorStore) -> object:
            status, _, body = await asgi_call(app, "GET", path, cookie=cookie)
            if status != 200:
                raise SystemExit(f"console {path}: {status} {body[:200]!r}")
            return []

        return run

    return app, cookie, [Case(name, get(path), "console") for name, path in pages.items()]


async def measure(
    store: OperatorStore, runs: int, pushes: int, extra: list[Case] | None = None
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for case in [*cases(pushes), *(extra or [])]:
        for _ in range(3):
            found = await case.run(store)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            found = await case.run(store)
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        size = len(found) if isinstance(found, list) else 0
        rows.append(
            {
                "case": case.name,
                "kind": case.kind,
                "rows": size,
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(p95, 2),
                "max_ms": round(times[-1], 2),
            }
        )
    return rows


async def run_sqlite(args: argparse.Namespace, directory: Path) -> list[dict[str, object]]:
    path = Path(args.keep) if args.keep else directory / "scale_admin.db"
    cipher = SecretCipher([generate_key()])
    fresh = not path.exists()
    store = await SqliteStore.open(path, cipher)
    await store.migrate()
    await store.close()
    if fresh:
        print(f"SQLite: filling {path}", file=sys.stderr, flush=True)
        began = time.perf_counter()
        fill_sqlite(path, args)
        print(f"  total: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    store = await SqliteStore.open(path, cipher)
    try:
        _, _, pages = await console_cases(store, args.pushes)
        return await measure(store, args.runs, args.pushes, pages)
    finally:
        await store.close()


async def run_postgres(args: argparse.Namespace) -> list[dict[str, object]]:
    cipher = SecretCipher([generate_key()])
    async with scratch_postgres(args.database_url, "faxpush_scale_admin") as url:
        store = await PostgresStore.open(url, cipher)
        try:
            await store.migrate()
            print("PostgreSQL: filling a scratch database", file=sys.stderr, flush=True)
            began = time.perf_counter()
            await fill_postgres(url, args)
            print(f"  total: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
            _, _, pages = await console_cases(store, args.pushes)
            return await measure(store, args.runs, args.pushes, pages)
        finally:
            await store.close()


def table(results: dict[str, list[dict[str, object]]]) -> str:
    lines = ["| backend | query | rows | p50 ms | p95 ms |", "|---|---|---:|---:|---:|"]
    for backend, rows in results.items():
        for row in rows:
            lines.append(
                f"| {backend} | {row['case']} | {row['rows']} | {row['p50_ms']} | {row['p95_ms']} |"
            )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, list[dict[str, object]]]:
    results: dict[str, list[dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="faxpush-scale-admin-") as directory:
        results["SQLite"] = await run_sqlite(args, Path(directory))
    if args.database_url:
        results["PostgreSQL"] = await run_postgres(args)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pushes", type=int, default=1_000_000)
    parser.add_argument("--attempts", type=int, default=3, help="attempts per push")
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=60, help="timed runs per query (>= 50)")
    parser.add_argument("--database-url", help="postgresql://… that may create databases")
    parser.add_argument("--keep", help="the SQLite file to fill (kept, and reused if present)")
    args = parser.parse_args()
    if args.pushes < 1000 or args.receivers < 1 or args.runs < 1 or args.attempts < 1:
        parser.error("--pushes must be >= 1000, --receivers, --runs and --attempts >= 1")
    results = asyncio.run(main_async(args))
    print(table(results))
    aims = {"page": 50.0, "receivers": 100.0, "console": 150.0}
    worst = {
        backend: {
            kind: max(float(str(r["p95_ms"])) for r in rows if r["kind"] == kind) for kind in aims
        }
        for backend, rows in results.items()
    }
    print(
        json.dumps(
            {"pushes": args.pushes, "aims_ms": aims, "worst_p95_ms": worst, "results": results}
        )
    )


if __name__ == "__main__":
    main()
