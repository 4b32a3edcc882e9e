"""Benchmark of ``POST /api/v1/pushes``: reports accepted per second at 64 clients, next to a
bare ASGI app, and end to end (ingest -> 2xx at a receiver) at a steady rate.

    python bench/ingest.py [--clients 64] [--seconds 5] [--pairs 3]
                           [--rate 1000] [--e2e-seconds 10] [--e2e-modes worker,serve]
                           [--worker-poll SECONDS] [--database-url POSTGRES_URL] [--json]

Throughput: two servers, each in its own process on 127.0.0.1, served the same way
(``faxpush._serving.server.server_for``: uvicorn + httptools, on the loop the commands use):

* ``faxpush admin serve`` on a SQLite file: bearer token lookup, the XML report parsed and
  checked, its push rendered, one durable enqueue per request (group-committed), 202;
* a bare ASGI app that parses the same body with the same codec (``parse_xml``) and answers
  202 with a random delivery id: the ceiling set by the HTTP stack, the parser and the load
  generator.

Each pair measures both for ``--seconds`` after a one-second warm-up; the order alternates
between pairs. The load generator (aiohttp, ``--clients`` requests in flight) runs in this
process and competes with the servers for the CPU. The figure of merit is the median of the
pairs' ratios (admin / bare). CPU per accepted request of each server (its process and,
for faxpush, its SQLite store process; read from /proc, Linux) says where the gap goes.

End to end, in two set-ups (``--e2e-modes``): ``worker``, ``faxpush admin serve`` and
``faxpush worker`` in their own processes on one SQLite file; ``serve``, ``faxpush serve``
with the API at ``/admin`` beside its own dispatcher (one process, one writer, woken when a
push is queued). ``bench/receiver.py`` (a bare ASGI receiver answering 200) runs in its own
process. After a two-second warm-up that is not measured, this process sends reports whose
push URL is the receiver at a steady ``--rate`` for ``--e2e-seconds`` (open loop: request *i*
starts at *i / rate*, whatever the earlier ones are doing). Latency is from the moment a
request is sent to the end of the attempt that got the receiver's 2xx (its row in the
outbox: start + duration), per push; ingest latency is request -> 202. The load
generator's collector is off during the measured window. With ``--database-url`` (a
PostgreSQL admin URL) both set-ups run on a scratch database of that server instead of a
SQLite file; the throughput part stays on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from faxpush import _loop
from faxpush._serving.server import bind, server_for
from faxpush.core.settings import EventLoop
from faxpush.core.xml_codec import parse_xml
from faxpush.storage.cipher import generate_key, parse_keys
from faxpush.storage.factory import open_store
from faxpush.storage.operator import OperatorStore
from pg_scratch import scratch_postgres  # bench/pg_scratch.py, run as a script
from receiver import receiver_process  # bench/receiver.py, run as a script

HERE = Path(__file__).resolve().parent
SAMPLE = (HERE.parent / "tests" / "data" / "spec_samples" / "report-full.xml").read_bytes()
CONTENT_TYPE = "text/xml; charset=UTF-8"
LISTENING = "listening on "


def report_body(push_url: str, job_id: str = "FJ7QK2M9X40ABCDEFGH123") -> bytes:
    """The full sample report, pushing to ``push_url`` without auth."""
    return (
        SAMPLE.replace(b"https://hooks.example.org/fax/status", push_url.encode())
        .replace(b"<authMethod>HTTP_DIGEST</authMethod>", b"<authMethod>NONE</authMethod>")
        .replace(b"FJ7QK2M9X40ABCDEFGH123", job_id.encode())
    )


# --- the bare app (run with --bare-server) ----------------------------------------------


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the body, parse it as the admin API does, answer 202 with a delivery id."""
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    report = parse_xml(b"".join(chunks))
    body = json.dumps({"deliveryId": uuid.uuid4().hex, "jobId": report.jobId}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def run_bare_server() -> None:
    sock = bind("127.0.0.1", 0)
    print(f"bare app: {LISTENING}http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server = server_for(bare_app, lifespan="off", log_config=None, handle_signals=True)
    _loop.run(lambda: server.serve(sockets=[sock]), EventLoop.AUTO)


# --- processes ----------------------------------------------------------------------------


def _env(database_url: str, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env.update(
        FAXPUSH_DATABASE_URL=database_url,
        FAXPUSH_SECRET_KEY=key,
        FAXPUSH_LOG_LEVEL="WARNING",
        FAXPUSH_ALLOWED_NETWORKS="127.0.0.0/8",
        PYTHONUNBUFFERED="1",
    )
    return env


def _faxpush(*args: str) -> list[str]:
    return [sys.executable, "-m", "faxpush.cli.main", *args]


async def _start(command: list[str], env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=None
    )
    assert process.stdout is not None
    async with asyncio.timeout(60):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise SystemExit(f"{command} exited before it listened")
            if LISTENING in line:
                return process, line.split(LISTENING, 1)[1].split()[0]


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 60)


def _token(env: dict[str, str]) -> str:
    done = subprocess.run(
        _faxpush("admin", "token", "create", "bench", "--scope", "write"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


# --- throughput ---------------------------------------------------------------------------


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system seconds of process ``pid`` and its children (the admin server's SQLite
    store process), from /proc (Linux)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS_PER_S
        pending += [int(child) for child in children]
    return total


@dataclass(frozen=True, slots=True)
class Load:
    accepted_per_s: float
    refused: int
    p50_ms: float
    p99_ms: float
    server_cpu_us: float  # per accepted request, the server process and its children


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def load(
    url: str, headers: dict[str, str], body: bytes, clients: int, seconds: float, server_pid: int
) -> Load:
    """``clients`` requests in flight for one warm-up second and ``seconds`` measured."""
    connector = aiohttp.TCPConnector(limit=clients)
    latencies: list[float] = []
    counts = {"accepted": 0, "refused": 0}
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        loop = asyncio.get_running_loop()
        measuring_from = loop.time() + 1.0
        end = measuring_from + seconds
        cpu: list[float] = []

        async def cpu_window() -> None:
            await asyncio.sleep(measuring_from - loop.time())
            cpu.append(_cpu_seconds(server_pid))
            await asyncio.sleep(end - loop.time())
            cpu.append(_cpu_seconds(server_pid))

        async def client() -> None:
            while loop.time() < end:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:  # reset or refused: counted, the run goes on
                    status = 0
                if loop.time() >= measuring_from:
                    latencies.append((time.perf_counter() - started) * 1000)
                    counts["accepted" if status == 202 else "refused"] += 1

        await asyncio.gather(cpu_window(), *(client() for _ in range(clients)))
    return Load(
        counts["accepted"] / seconds,
        counts["refused"],
        _percentile(latencies, 0.5),
        _percentile(latencies, 0.99),
        (cpu[1] - cpu[0]) / max(counts["accepted"], 1) * 1e6,
    )


async def throughput(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    env = _env(f"sqlite:///{workdir / 'ingest.db'}", generate_key())
    token = await asyncio.to_thread(_token, env)
    admin, admin_url = await _start(_faxpush("admin", "serve", "--listen", "127.0.0.1:0"), env)
    bare, bare_url = await _start([sys.executable, __file__, "--bare-server"], env)
    body = report_body("https://hooks.example.test/fax/status")
    headers = {"Content-Type": CONTENT_TYPE, "Authorization": f"Bearer {token}"}
    pairs: list[dict[str, Any]] = []
    try:
        for index in range(args.pairs):
            order = ("bare", "admin") if index % 2 == 0 else ("admin", "bare")
            results: dict[str, Load] = {}
            for name in order:
                url = (admin_url if name == "admin" else bare_url) + "/api/v1/pushes"
                pid = admin.pid if name == "admin" else bare.pid
                results[name] = await load(url, headers, body, args.clients, args.seconds, pid)
            pairs.append(
                {
                    "bare_per_s": round(results["bare"].accepted_per_s, 1),
                    "admin_per_s": round(results["admin"].accepted_per_s, 1),
                    "ratio": round(
                        results["admin"].accepted_per_s / results["bare"].accepted_per_s, 3
                    ),
                    "admin_p50_ms": round(results["admin"].p50_ms, 1),
                    "admin_p99_ms": round(results["admin"].p99_ms, 1),
                    "bare_p99_ms": round(results["bare"].p99_ms, 1),
                    "admin_cpu_us": round(results["admin"].server_cpu_us),
                    "bare_cpu_us": round(results["bare"].server_cpu_us),
                    "refused": results["admin"].refused + results["bare"].refused,
                }
            )
            print(f"pair {index + 1}: {pairs[-1]}", file=sys.stderr, flush=True)
    finally:
        await _stop(admin)
        await _stop(bare)
    return {
        "clients": args.clients,
        "seconds": args.seconds,
        "pairs": pairs,
        "bare_per_s": statistics.median(p["bare_per_s"] for p in pairs),
        "admin_per_s": statistics.median(p["admin_per_s"] for p in pairs),
        "ratio": statistics.median(p["ratio"] for p in pairs),
        "admin_cpu_us": statistics.median(p["admin_cpu_us"] for p in pairs),
        "bare_cpu_us": statistics.median(p["bare_cpu_us"] for p in pairs),
    }


# --- end to end ---------------------------------------------------------------------------


async def _delivered_at(database_url: str, key: str, job_id: str) -> dict[str, float]:
    """Per delivery id, the wall-clock end of the attempt that got a 2xx."""
    store = await open_store(database_url, parse_keys(key), migrate=False)
    try:
        assert isinstance(store, OperatorStore)
        attempts = await store.job_attempts(job_id)
    finally:
        await store.close()
    return {
        a.delivery_id: a.started_at.timestamp() + a.duration_ms / 1000
        for a in attempts
        if a.http_status is not None and 200 <= a.http_status < 300
    }


async def _steady(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    body: bytes,
    rate: float,
    count: int,
) -> tuple[dict[str, float], list[float], int, float]:
    """Send ``count`` requests at ``rate`` per second (open loop); per accepted delivery id
    the wall-clock time it was sent, the ingest latencies, the refusals and the sending time."""
    sent_at: dict[str, float] = {}
    ingest_ms: list[float] = []
    refused = 0

    async def one() -> None:
        nonlocal refused
        wall, started = time.time(), time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
        except aiohttp.ClientError:  # reset or refused: counted, the run goes on
            refused += 1
            return
        if response.status != 202:
            refused += 1
            return
        ingest_ms.append((time.perf_counter() - started) * 1000)
        sent_at[json.loads(answer)["deliveryId"]] = wall

    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for index in range(count):
        delay = start + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    sending = loop.time() - start
    await asyncio.gather(*tasks)
    return sent_at, ingest_ms, refused, sending


async def end_to_end(
    args: argparse.Namespace, workdir: Path, push_url: str, mode: str
) -> dict[str, Any]:
    """``mode`` worker: ``faxpush admin serve`` and ``faxpush worker``, two processes on one
    database; serve: ``faxpush serve``, the API at /admin beside its own dispatcher. The
    database is a SQLite file, or with ``--database-url`` a scratch PostgreSQL database."""
    async with _e2e_database(args, workdir, mode) as database_url:
        return await _end_to_end_on(args, database_url, push_url, mode)


@contextlib.asynccontextmanager
async def _e2e_database(args: argparse.Namespace, workdir: Path, mode: str) -> AsyncIterator[str]:
    """A SQLite file in ``workdir``, or a scratch database on ``--database-url``'s server."""
    if args.database_url is None:
        yield f"sqlite:///{workdir / f'e2e-{mode}.db'}"
        return
    async with scratch_postgres(args.database_url, "faxpush_bench_e2e") as url:
        yield url


async def _end_to_end_on(
    args: argparse.Namespace, database_url: str, push_url: str, mode: str
) -> dict[str, Any]:
    key = generate_key()
    env = _env(database_url, key)
    token = await asyncio.to_thread(_token, env)
    worker: asyncio.subprocess.Process | None = None
    if mode == "serve":
        command = [sys.executable, "-m", "faxpush.cli.serve", "--port", "0", "--sim-speed", "0"]
        admin, base_url = await _start(command, env)
        admin_url = base_url + "/admin"
    else:
        admin, admin_url = await _start(_faxpush("admin", "serve", "--listen", "127.0.0.1:0"), env)
        worker_env = env
        if args.worker_poll is not None:
            worker_env = {**env, "FAXPUSH_POLL_INTERVAL": str(args.worker_poll)}
        worker = await asyncio.create_subprocess_exec(*_faxpush("worker"), env=worker_env)
    job_id = f"e2e-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": CONTENT_TYPE, "Authorization": f"Bearer {token}"}
    url = admin_url + "/api/v1/pushes"
    total = int(args.rate * args.e2e_seconds)
    try:
        connector = aiohttp.TCPConnector(limit=512)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            # Warm-up, not measured: the worker starts, both processes open their stores.
            warm = report_body(push_url, "warm-up")
            await _steady(session, url, headers, warm, args.rate, int(args.rate * 2))
            await asyncio.sleep(2.0)
            body = report_body(push_url, job_id)
            # This process is the load generator, not the system measured: a full collection
            # here stalled sending and reading for 40-60 ms, which showed as faxpush's p99.
            gc.collect()
            gc.disable()
            try:
                sent_at, ingest_ms, refused, sending = await _steady(
                    session, url, headers, body, args.rate, total
                )
            finally:
                gc.enable()
        delivered: dict[str, float] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            delivered = await _delivered_at(database_url, key, job_id)
            if len(delivered) >= len(sent_at):
                break
            await asyncio.sleep(0.5)
    finally:
        await _stop(admin)
        if worker is not None:
            await _stop(worker)
    latencies = [(delivered[i] - sent_at[i]) * 1000 for i in sent_at if i in delivered]
    return {
        "mode": mode,
        "database": database_url.partition(":")[0],
        "worker_poll_s": args.worker_poll if mode == "worker" else None,
        "rate": args.rate,
        "sent": total,
        "achieved_rate": round(total / sending, 1),
        "accepted": len(sent_at),
        "refused": refused,
        "delivered": len(latencies),
        "ingest_p50_ms": round(_percentile(ingest_ms, 0.5), 1),
        "ingest_p99_ms": round(_percentile(ingest_ms, 0.99), 1),
        "e2e_p50_ms": round(_percentile(latencies, 0.5), 1),
        "e2e_p99_ms": round(_percentile(latencies, 0.99), 1),
        "e2e_max_ms": round(max(latencies, default=0.0), 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        summary: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds")}
        if args.pairs:
            summary["throughput"] = await throughput(args, workdir)
        if args.e2e_seconds > 0:
            with receiver_process() as push_url:
                summary["end_to_end"] = [
                    await end_to_end(args, workdir, push_url, mode)
                    for mode in args.e2e_modes.split(",")
                ]
        return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=64, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per side")
    parser.add_argument("--pairs", type=int, default=3, help="admin/bare pairs (0: skip)")
    parser.add_argument("--rate", type=float, default=1000.0, help="end-to-end pushes/s")
    parser.add_argument(
        "--e2e-seconds", type=float, default=10.0, help="end-to-end sending time (0: skip)"
    )
    parser.add_argument(
        "--e2e-modes",
        default="worker,serve",
        help="worker: admin serve + faxpush worker; serve: faxpush serve with /admin",
    )
    parser.add_argument(
        "--worker-poll",
        type=float,
        help="FAXPUSH_POLL_INTERVAL of the worker in the worker mode (default: the setting's)",
    )
    parser.add_argument(
        "--database-url",
        help="end to end on a scratch database of this PostgreSQL server (an admin URL such "
        "as postgresql://postgres@127.0.0.1:5432/postgres) instead of a SQLite file",
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        run_bare_server()
        return
    summary = asyncio.run(main_async(args))
    if not args.json:
        print(json.dumps(summary, indent=2))
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
