"""Soak: a long run of the real worker (or of ``faxpush listen``) watching memory and descriptors.

    python bench/soak.py [--pushes 1000000] [--seconds 7200] [--concurrency 128]
    python bench/soak.py --listen [--pushes 200000]

Worker mode: ``faxpush worker`` (SQLite outbox, claims and results in its store process, as
deployed) delivers to a receiver in its own process that answers a mix: 90 % 200, 7 % 503 and
3 % 200 after 0.5-1 s. This process enqueues the pushes in batches while the worker delivers,
keeping at most ``--backlog`` undelivered; a short retry schedule lets the 503s complete.

Listen mode: ``faxpush listen`` (SQLite inbox) receives ``--pushes`` pushes, each with its own
delivery id, from an aiohttp load generator with ``--concurrency`` requests in flight.

Every ``--sample-seconds`` the RSS, open file descriptors and CPU time of the process under
test (and of its children: the worker's store process) are read from /proc and printed. The
first tenth of the run (by pushes, or by ``--seconds``) is warm-up; growth is measured from
the first sample after it. The last stdout line is a JSON summary. A run that reaches
``--seconds`` stops enqueuing, drains what it enqueued and says so (``"time_limited"``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BODY = (ROOT / "tests" / "data" / "spec_samples" / "report-full.xml").read_bytes()
CONTENT_TYPE = "text/xml; charset=UTF-8"
CLI = [sys.executable, "-m", "faxpush.cli"]
RETRY_DELAYS = "0,1s,1s,1s,1s,2s,2s,2s,2s,2s"  # ten attempts: a 7 % 503 mix always completes
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
Message = MutableMapping[str, Any]


# --- /proc sampling ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProcStats:
    rss_kb: int
    fds: int
    cpu_s: float


def proc_stats(pid: int) -> ProcStats | None:
    """RSS, open descriptors and user+system CPU of one process; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    cpu = (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime, stime
    return ProcStats(rss, fds, cpu)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except FileNotFoundError:
            continue
    return found


@dataclass(slots=True)
class Sampler:
    """Samples the main process (``pid``) and each of its children, keeping every sample."""

    pid: int
    samples: list[dict[str, Any]] = field(default_factory=list)
    warm: bool = False
    warm_index: int | None = None  # index of the first sample after warm-up

    def sample(self, elapsed: float, done: int) -> dict[str, Any] | None:
        main = proc_stats(self.pid)
        if main is None:
            return None
        kids = [s for s in (proc_stats(c) for c in children(self.pid)) if s is not None]
        row = {
            "t": round(elapsed, 1),
            "done": done,
            "rss_kb": main.rss_kb,
            "fds": main.fds,
            "cpu_s": main.cpu_s,
            "child_rss_kb": sum(k.rss_kb for k in kids),
            "child_fds": sum(k.fds for k in kids),
            "child_cpu_s": sum(k.cpu_s for k in kids),
        }
        self.samples.append(row)
        if self.warm and self.warm_index is None:
            self.warm_index = len(self.samples) - 1
        return row

    def mark_warm(self) -> None:
        """Warm-up is over: growth is measured from the next sample on."""
        self.warm = True

    def summary(self) -> dict[str, Any]:
        first = self.warm_index if self.warm_index is not None else len(self.samples) - 1
        warm, after = self.samples[first], self.samples[first:]
        last = self.samples[-1]

        def growth(key: str, value: float) -> float:
            start: float = warm[key]
            return round(100 * (value - start) / max(start, 1), 1)

        rss_max = max(s["rss_kb"] for s in after)
        child_max = max(s["child_rss_kb"] for s in after)
        # Steady state: CPU and pushes from the warm-up sample on (all of it for tiny runs).
        base = warm if last["done"] > warm["done"] else dict.fromkeys(warm, 0)
        cpu = last["cpu_s"] + last["child_cpu_s"] - base["cpu_s"] - base["child_cpu_s"]
        pushes = last["done"] - base["done"]
        return {
            "samples": len(self.samples),
            "rss_mb_warm": round(warm["rss_kb"] / 1024, 1),
            "rss_mb_end": round(last["rss_kb"] / 1024, 1),
            "rss_mb_max_after_warm": round(rss_max / 1024, 1),
            "rss_growth_pct": growth("rss_kb", last["rss_kb"]),
            "rss_growth_max_pct": growth("rss_kb", rss_max),
            "child_rss_mb_warm": round(warm["child_rss_kb"] / 1024, 1),
            "child_rss_mb_end": round(last["child_rss_kb"] / 1024, 1),
            "child_rss_growth_max_pct": growth("child_rss_kb", child_max),
            "fds_min": min(s["fds"] for s in self.samples),
            "fds_max": max(s["fds"] for s in self.samples),
            "fds_after_warm": [min(s["fds"] for s in after), max(s["fds"] for s in after)],
            "child_fds_after_warm": [
                min(s["child_fds"] for s in after),
                max(s["child_fds"] for s in after),
            ],
            "cpu_us_per_push": round(cpu * 1e6 / max(pushes, 1), 1),
        }


def progress(label: str, row: dict[str, Any], total: int) -> None:
    print(
        f"[{label} {row['t']:7.0f}s] {row['done']:>9,}/{total:,} done; "
        f"RSS {row['rss_kb'] / 1024:6.1f} MB, fds {row['fds']}; "
        f"children RSS {row['child_rss_kb'] / 1024:6.1f} MB, fds {row['child_fds']}; "
        f"CPU {row['cpu_s'] + row['child_cpu_s']:.0f} s",
        file=sys.stderr,
        flush=True,
    )


# --- the mixed receiver (its own process) -----------------------------------------------------
async def mixed_app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """200 (90 %), 503 (7 %), 200 after 0.5-1 s (3 %); counts answers for the summary."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        stats = Path(os.environ["SOAK_STATS_FILE"])
        await asyncio.to_thread(stats.write_text, json.dumps(STATS))
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    draw = random.random()
    status = 503 if draw < 0.07 else 200
    if 0.07 <= draw < 0.10:
        STATS["slow"] += 1
        await asyncio.sleep(0.5 + random.random() / 2)
    STATS[str(status)] += 1
    if status == 200:
        delivery_id = dict(scope["headers"]).get(b"faxpush-delivery-id", b"")
        if delivery_id in SEEN:
            STATS["duplicate_200"] += 1
        SEEN.add(delivery_id)
    headers = [(b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


STATS: dict[str, int] = {"200": 0, "503": 0, "slow": 0, "duplicate_200": 0}
SEEN: set[bytes] = set()


def serve_receiver(port_file: Path) -> None:
    import uvicorn

    from faxpush.receiver.serve import bind

    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(
        mixed_app, http="httptools", log_level="warning", access_log=False, backlog=2048
    )
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(sock.getsockname()[1]))
    tmp.replace(port_file)
    uvicorn.Server(config).run(sockets=[sock])


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], what: str) -> str:
    deadline = time.monotonic() + 30
    while not path.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.05)
    return path.read_text()


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


# --- worker mode ------------------------------------------------------------------------------
async def enqueue_batch(store: Any, url: str, start: int, count: int) -> None:
    from faxpush.core.targets import PushTarget
    from faxpush.storage.base import NewPush

    pushes = [
        NewPush(
            delivery_id=f"soak-{n:08d}",
            job_id=f"FJ{n:020d}",
            target=PushTarget(url=url),
            content_type=CONTENT_TYPE,
            body=BODY,
        )
        for n in range(start, start + count)
    ]
    await store.enqueue_many(pushes, now=datetime.now(UTC))  # one transaction for the lot


def undelivered(db: sqlite3.Connection) -> tuple[int, int]:
    """(pending or in flight, failed)."""
    rows = dict(
        db.execute(
            "SELECT state, count(*) FROM pushes WHERE state IN ('pending', 'in_flight', 'failed') "
            "GROUP BY state"
        ).fetchall()
    )
    return rows.get("pending", 0) + rows.get("in_flight", 0), rows.get("failed", 0)


async def worker_soak(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from faxpush.storage.cipher import SecretCipher, generate_key
    from faxpush.storage.sqlite import SqliteStore

    key = generate_key()
    db_path = tmp / "outbox.db"
    store = await SqliteStore.open(db_path, SecretCipher([key]))
    await store.migrate()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    receiver_env = {**env, "SOAK_STATS_FILE": str(tmp / "receiver.json")}
    receiver = subprocess.Popen(  # noqa: ASYNC220 - set-up, before anything is measured
        [sys.executable, __file__, "--serve-receiver", str(tmp / "port")], env=receiver_env
    )
    url = f"http://127.0.0.1:{wait_for_file(tmp / 'port', receiver, 'the receiver')}/hook"
    env.update(
        FAXPUSH_DATABASE_URL=f"sqlite:///{db_path}",
        FAXPUSH_SECRET_KEY=key,
        FAXPUSH_ALLOWED_NETWORKS="127.0.0.0/8",
        FAXPUSH_RETRY_DELAYS=RETRY_DELAYS,
        FAXPUSH_CONCURRENCY=str(args.concurrency),
        FAXPUSH_PER_HOST_CONCURRENCY=str(args.concurrency),
        FAXPUSH_POLL_INTERVAL="0.2",
        FAXPUSH_LOG_LEVEL="ERROR",
    )
    worker = subprocess.Popen([*CLI, "worker"], env=env)  # noqa: ASYNC220
    sampler = Sampler(worker.pid)
    counts = sqlite3.connect(db_path, timeout=30)
    started = time.monotonic()
    enqueued = time_limited = 0
    next_sample = started
    try:
        while True:
            elapsed = time.monotonic() - started
            if elapsed > args.seconds and enqueued < args.pushes and not time_limited:
                time_limited = 1
                print(f"time limit reached after {enqueued:,} enqueued", file=sys.stderr)
            target = enqueued if time_limited else args.pushes
            backlog, failed = undelivered(counts)
            room = min(args.backlog - backlog, target - enqueued, 5000)
            if room >= min(1000, target - enqueued) and room > 0:
                await enqueue_batch(store, url, enqueued, room)
                enqueued += room
                backlog += room
            done = enqueued - backlog
            if elapsed >= args.seconds / 10 or done >= args.pushes / 10:
                sampler.mark_warm()
            if time.monotonic() >= next_sample or (enqueued == target and backlog == 0):
                row = sampler.sample(elapsed, done)
                if row is None or worker.poll() is not None:
                    raise SystemExit(f"the worker exited ({worker.returncode})")
                progress("worker", row, args.pushes)
                next_sample += args.sample_seconds
            if enqueued == target and backlog == 0:
                break
            await asyncio.sleep(0.25)
        elapsed = time.monotonic() - started
    finally:
        worker_code = stop(worker)
        stop(receiver)
        counts.close()
        await store.close()
    answers = json.loads((tmp / "receiver.json").read_text())
    return {
        "mode": "worker",
        "pushes": enqueued,
        "delivered": enqueued - failed,
        "failed": failed,
        "seconds": round(elapsed, 1),
        "pushes_per_s": round(enqueued / elapsed, 1),
        "time_limited": bool(time_limited),
        "receiver_answers": answers,
        "lost": enqueued - (answers["200"] - answers["duplicate_200"]),
        "worker_exit_code": worker_code,
        **sampler.summary(),
    }


# --- listen mode ------------------------------------------------------------------------------
async def listen_soak(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import aiohttp

    inbox = tmp / "inbox.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    command = [*CLI, "listen", "--port", "0", "--path", "/hook", "--inbox", f"sqlite:///{inbox}"]
    listen = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert listen.stderr is not None
    banner = await asyncio.wait_for(listen.stderr.readline(), 30)
    url = banner.decode().split(" on ", 1)[1].split()[0]
    drain = asyncio.create_task(listen.stderr.read())  # keep the pipe from filling
    sampler = Sampler(listen.pid)
    statuses: dict[int, int] = {}
    next_id = 0
    started = time.monotonic()

    async def post(session: aiohttp.ClientSession) -> None:
        nonlocal next_id
        while next_id < args.pushes and time.monotonic() - started < args.seconds:
            delivery_id = f"soak-{next_id:08d}"
            next_id += 1
            headers = {"Content-Type": CONTENT_TYPE, "Faxpush-Delivery-Id": delivery_id}
            async with session.post(url, data=BODY, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    async def watch() -> None:
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= args.seconds / 10 or next_id >= args.pushes / 10:
                sampler.mark_warm()
            row = sampler.sample(elapsed, sum(statuses.values()))
            if row is not None:
                progress("listen", row, args.pushes)
            await asyncio.sleep(args.sample_seconds)

    watcher = asyncio.create_task(watch())
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(post(session) for _ in range(args.concurrency)))
            elapsed = time.monotonic() - started
            watcher.cancel()
            sampler.mark_warm()
            row = sampler.sample(elapsed, sum(statuses.values()))  # the last one under load
            if row is not None:
                progress("listen", row, args.pushes)
        await asyncio.sleep(1)  # the server notices the clients are gone
        idle = proc_stats(listen.pid)
    finally:
        watcher.cancel()
        if listen.returncode is None:
            listen.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(listen.wait(), 60)
        await drain
    with sqlite3.connect(inbox) as db:
        (stored,) = db.execute("SELECT count(*) FROM inbox_entries").fetchone()
    sent = sum(statuses.values())
    return {
        "mode": "listen",
        "pushes": sent,
        "stored": stored,
        "lost": sent - stored,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(elapsed, 1),
        "pushes_per_s": round(sent / elapsed, 1),
        "time_limited": sent < args.pushes,
        "listen_exit_code": code,
        "fds_after_clients_left": None if idle is None else idle.fds,
        **sampler.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", action="store_true", help="soak `faxpush listen` instead")
    parser.add_argument("--pushes", type=int, help="default 1,000,000 (listen: 200,000)")
    parser.add_argument("--seconds", type=float, default=7200, help="stop enqueuing after this")
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--backlog", type=int, default=20_000, help="most pushes undelivered")
    parser.add_argument("--sample-seconds", type=float, default=10)
    parser.add_argument("--serve-receiver", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver is not None:
        serve_receiver(args.serve_receiver)
        return
    if args.pushes is None:
        args.pushes = 200_000 if args.listen else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        run = listen_soak if args.listen else worker_soak
        summary = asyncio.run(run(args, Path(tmp)))
    summary["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"{summary['mode']}: {summary['pushes']:,} pushes in {summary['seconds']:,.0f} s "
        f"({summary['pushes_per_s']:,.0f}/s); RSS {summary['rss_mb_warm']} MB after warm-up, "
        f"{summary['rss_mb_end']} MB at the end ({summary['rss_growth_pct']:+.1f} %, max "
        f"{summary['rss_growth_max_pct']:+.1f} %); fds {summary['fds_min']}-{summary['fds_max']}; "
        f"{summary['cpu_us_per_push']} us CPU per push"
    )
    print(json.dumps(summary))
    if summary["lost"] or summary.get("failed") or set(summary.get("statuses", {})) - {"200"}:
        sys.exit("the soak lost pushes or got unexpected answers: see the summary")


if __name__ == "__main__":
    main()
