"""bench/receive.py explains itself and exits 0 when wrk is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_skips_without_wrk(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty directory: no wrk, no taskset
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "receive.py"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.splitlines()[-1])
    assert "wrk is not installed" in last["skipped"]
