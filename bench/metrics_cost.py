"""What Prometheus metrics cost the dispatcher: ``python bench/dispatch.py --metrics``.

Each run is a pair of faxpush runs of ``bench/dispatch.py`` on the worker's default loop,
metrics off and on (their order alternates between runs), with ``/metrics`` rendered once
a second while metrics are on (a scrape every 15 s is usual). Figures: pushes/s and CPU µs
per push of both, and the median of the pairs' throughput ratios (on/off).

On a busy machine those scatter by more than the cost sought, so the instruments are also
timed alone: the attempt hook and a store transaction's sample, in a tight loop, give the
CPU metrics add per push (with the transactions per push the "on" runs counted), set
against the worker's CPU per push with metrics off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from dispatch import Phase, faxpush_run  # bench/dispatch.py
from faxpush import _loop
from faxpush._observe.metrics import Metrics
from faxpush.core.outcome import Verdict
from faxpush.core.settings import EventLoop
from receiver import receiver_process  # bench/receiver.py


@dataclass(frozen=True, slots=True)
class _Attempt:
    """What the attempt hook reads of an attempt."""

    verdict: Verdict
    auth_method: str
    duration_ms: float


def _instrument_us(calls: int = 200_000) -> tuple[float, float, float]:
    """CPU µs of one attempt hook call, one store-transaction sample, and one rendering of
    /metrics, each timed alone on a fresh registry."""
    metrics = Metrics(CollectorRegistry())
    attempt = _Attempt(Verdict.DELIVERED, "NONE", 3.0)
    cpu = time.process_time()
    for _ in range(calls):
        metrics.observe_attempt(attempt)
    hook = (time.process_time() - cpu) / calls * 1e6
    cpu = time.process_time()
    for _ in range(calls):
        metrics.observe_store("finish", 0.002)
    store = (time.process_time() - cpu) / calls * 1e6
    cpu = time.process_time()
    for _ in range(1000):
        generate_latest(metrics.registry)
    scrape = (time.process_time() - cpu) / 1000 * 1e6
    return hook, store, scrape


def _transactions(metrics: Metrics) -> float:
    return sum(
        metrics.registry.get_sample_value(
            "faxpush_store_transaction_seconds_count", {"operation": operation}
        )
        or 0.0
        for operation in ("claim", "finish")
    )


def metrics_cost(url: str, tmp: str, args: argparse.Namespace) -> dict[str, Any]:
    """Pairs of faxpush runs, metrics off and on, in alternating order (``--metrics``)."""
    off: list[Phase] = []
    on: list[Phase] = []
    transactions: list[float] = []
    settle = not args.no_settle
    for run in range(args.repeat):
        for measured in (False, True) if run % 2 == 0 else (True, False):
            db = Path(tmp) / f"outbox-{run}-{'on' if measured else 'off'}.db"

            metrics = Metrics(CollectorRegistry()) if measured else None

            def once(db: Path = db, metrics: Metrics | None = metrics) -> Any:
                return faxpush_run(
                    url, args.pushes, args.concurrency, db, settle=settle, metrics=metrics
                )

            phase = _loop.run(once, EventLoop.AUTO)
            (on if measured else off).append(phase)
            if metrics is not None:
                transactions.append(_transactions(metrics) / args.pushes)
            print(
                f"run {run + 1}/{args.repeat} metrics {'on ' if measured else 'off'}: "
                f"{phase.pushes_per_s:,.0f}/s, {phase.cpu_us + phase.child_cpu_us:.0f} us "
                f"CPU/push (worker {phase.cpu_us:.0f})",
                file=sys.stderr,
            )
    ratios = [b.pushes_per_s / a.pushes_per_s for a, b in zip(off, on, strict=True)]
    extra_cpu = [b.cpu_us - a.cpu_us for a, b in zip(off, on, strict=True)]  # worker, per pair

    def cpu(phases: list[Phase]) -> float:
        return round(statistics.median(p.cpu_us + p.child_cpu_us for p in phases), 1)

    hook_us, store_us, scrape_us = _instrument_us()
    per_push = hook_us + statistics.median(transactions) * store_us
    worker_off = statistics.median(p.cpu_us for p in off)

    return {
        "pushes": args.pushes,
        "concurrency": args.concurrency,
        "loop": _loop.loop_name(EventLoop.AUTO),
        "off_pushes_per_s": round(statistics.median(p.pushes_per_s for p in off), 1),
        "on_pushes_per_s": round(statistics.median(p.pushes_per_s for p in on), 1),
        "pair_ratio_median": round(statistics.median(ratios), 4),
        "pair_ratios": [round(r, 4) for r in ratios],
        "pair_worker_cpu_us_diff_median": round(statistics.median(extra_cpu), 1),
        "off_cpu_us_per_push": cpu(off),
        "on_cpu_us_per_push": cpu(on),
        "off_worker_cpu_us_per_push": round(statistics.median(p.cpu_us for p in off), 1),
        "on_worker_cpu_us_per_push": round(statistics.median(p.cpu_us for p in on), 1),
        "hook_us": round(hook_us, 3),
        "store_sample_us": round(store_us, 3),
        "scrape_us": round(scrape_us, 1),
        "transactions_per_push": round(statistics.median(transactions), 4),
        "instrument_us_per_push": round(per_push, 3),
        "instrument_share_of_worker_cpu": round(per_push / worker_off, 4),
    }


def report_metrics_cost(args: argparse.Namespace) -> None:
    """Run the pairs and print the figures (and, with ``--json``, a JSON line)."""
    with receiver_process() as url, tempfile.TemporaryDirectory() as tmp:
        cost = metrics_cost(url, tmp, args)
    print(
        f"metrics off {cost['off_pushes_per_s']:,.0f} pushes/s, "
        f"{cost['off_cpu_us_per_push']:.0f} us CPU/push; on "
        f"{cost['on_pushes_per_s']:,.0f} pushes/s, {cost['on_cpu_us_per_push']:.0f} us "
        f"CPU/push; median pair ratio on/off {cost['pair_ratio_median']:.3f}\n"
        f"instruments alone: {cost['instrument_us_per_push']:.2f} us CPU per push "
        f"(attempt hook {cost['hook_us']:.2f} us + {cost['transactions_per_push']:.3f} "
        f"store samples of {cost['store_sample_us']:.2f} us), "
        f"{cost['instrument_share_of_worker_cpu']:.2%} of the worker's CPU per push "
        f"(metrics off); one /metrics rendering {cost['scrape_us']:.0f} us"
    )
    if args.json:
        print(json.dumps(cost))
