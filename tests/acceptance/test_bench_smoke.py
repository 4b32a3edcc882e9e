"""The dispatch benchmarks still run end to end (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _last_json_line(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def test_dispatch_benchmark_reports_its_ratio() -> None:
    summary = _last_json_line(
        str(BENCH / "dispatch.py"),
        *("--pushes", "300", "--repeat", "1", "--latency-seconds", "0.3", "--json"),
    )
    assert summary["pushes"] == 300
    assert isinstance(summary["ratio"], float)
    assert summary["ratio"] > 0
    assert isinstance(summary["p99_ms"], float)
    assert summary["p99_ms"] > 0
    loops = summary["loops"]
    assert isinstance(loops, dict)
    assert set(loops) == {"asyncio", "uvloop"}  # each pair on one loop, both loops
    for figures in loops.values():
        assert figures["worker_cpu_us_per_push"] > 0
        assert figures["store_cpu_us_per_push"] >= 0  # /proc counts in 10 ms ticks
        assert figures["baseline_cpu_us_per_push"] > 0


def test_dispatch_benchmark_measures_the_cost_of_metrics() -> None:
    summary = _last_json_line(
        str(BENCH / "dispatch.py"), *("--metrics", "--pushes", "300", "--repeat", "2", "--json")
    )
    assert summary["pushes"] == 300
    ratios = summary["pair_ratios"]
    assert isinstance(ratios, list)
    assert len(ratios) == 2  # one pair per run, metrics off and on
    for key in ("off_pushes_per_s", "on_pushes_per_s", "off_cpu_us_per_push", "on_cpu_us_per_push"):
        value = summary[key]
        assert isinstance(value, float)
        assert value > 0


def test_reference_loops_deliver_every_variant() -> None:
    summary = _last_json_line(str(BENCH / "dispatch_reference.py"), "--pushes", "300", "--json")
    assert set(summary) == {"bare", "naive", "store", "store-raw-post"}
    for figures in summary.values():
        assert isinstance(figures, dict)
        assert figures["pushes_per_s"] > 0
        assert figures["loop_cpu_us"] > 0


@pytest.mark.slow  # two worker start-ups and the retry tail of the 503s: ~10 s
def test_soak_runs_the_worker_and_listen_and_samples_them() -> None:
    worker = _last_json_line(
        str(BENCH / "soak.py"), *("--pushes", "400", "--sample-seconds", "0.5")
    )
    assert (worker["pushes"], worker["delivered"], worker["lost"]) == (400, 400, 0)
    assert worker["worker_exit_code"] == 0
    assert isinstance(worker["samples"], int)
    assert worker["samples"] >= 2
    assert isinstance(worker["rss_mb_end"], float)
    assert worker["rss_mb_end"] > 0
    listen = _last_json_line(
        str(BENCH / "soak.py"), *("--listen", "--pushes", "400", "--sample-seconds", "0.5")
    )
    assert (listen["pushes"], listen["stored"], listen["lost"]) == (400, 400, 0)
    assert listen["statuses"] == {"200": 400}
    assert listen["listen_exit_code"] == 0
