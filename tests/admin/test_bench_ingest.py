"""bench/ingest.py still runs end to end (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import pg_support

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest.py"


def _run_bench(*args: str) -> dict[str, Any]:
    """The benchmark's summary (its last line) for ``args``, after a successful run."""
    done = subprocess.run(
        [sys.executable, str(BENCH), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


@pytest.mark.slow
def test_ingest_benchmark_reports_its_figures() -> None:
    summary = _run_bench(
        *("--pairs", "1", "--seconds", "0.5", "--clients", "4"),
        *("--rate", "50", "--e2e-seconds", "0.4", "--e2e-modes", "serve"),
    )
    throughput = summary["throughput"]
    assert throughput["admin_per_s"] > 0
    assert throughput["bare_per_s"] > 0
    assert throughput["ratio"] > 0
    [e2e] = summary["end_to_end"]
    assert e2e["mode"] == "serve"
    assert e2e["delivered"] == e2e["accepted"] == 20
    assert e2e["e2e_p99_ms"] > 0


@pytest.mark.slow
def test_ingest_benchmark_runs_end_to_end_on_postgresql() -> None:
    admin_url = pg_support.require_postgres()
    summary = _run_bench(
        *("--pairs", "0", "--rate", "50", "--e2e-seconds", "0.4", "--e2e-modes", "worker"),
        *("--database-url", admin_url),
    )
    [e2e] = summary["end_to_end"]
    assert (e2e["mode"], e2e["database"]) == ("worker", "postgresql")
    assert e2e["delivered"] == e2e["accepted"] == 20
