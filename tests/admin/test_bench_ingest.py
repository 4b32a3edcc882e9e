"""bench/ingest.py still runs end to end (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pg_support

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest.py"


@pytest.mark.slow
def test_ingest_benchmark_reports_its_figures() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            *("--pairs", "1", "--seconds", "0.5", "--clients", "4"),
            *("--rate", "50", "--e2e-seconds", "0.4", "--e2e-modes", "serve", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
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
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            *("--pairs", "0", "--rate", "50", "--e2e-seconds", "0.4", "--e2e-modes", "worker"),
            *("--database-url", admin_url, "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [e2e] = json.loads(done.stdout.strip().splitlines()[-1])["end_to_end"]
    assert (e2e["mode"], e2e["database"]) == ("worker", "postgresql")
    assert e2e["delivered"] == e2e["accepted"] == 20
