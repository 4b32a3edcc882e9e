"""The skip-or-fail rule of tests/pg_support.py, checked in a separate pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pg_support

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
PROBE = """
from tests.pg_support import require_postgres

def test_needs_postgres():
    require_postgres()
"""


def _run_probe(tmp_path: Path, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", pg_support.PG_DSN_ENV)}
    env[pg_support.PG_DSN_ENV] = "postgresql://postgres@127.0.0.1:1/postgres"  # nothing there
    env["PYTHONPATH"] = str(REPO)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unreachable_server_skips_with_the_reason(tmp_path: Path) -> None:
    done = _run_probe(tmp_path, ci=None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "PostgreSQL is not reachable at postgresql://127.0.0.1:1/postgres" in done.stdout
    assert "FAXPUSH_TEST_PG_DSN" in done.stdout


def test_an_unreachable_server_fails_under_ci(tmp_path: Path) -> None:
    done = _run_probe(tmp_path, ci="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    assert "CI=true requires PostgreSQL" in done.stdout
