"""One-off commands fail fast and in one line: an unreachable PostgreSQL, a SQLite file in a
directory that does not exist, a push URL that is not one. Each runs the real CLI in a
subprocess; the only network address used is a refused loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from faxpush.storage.cipher import generate_key

REPORT = Path(__file__).resolve().parents[1] / "data" / "spec_samples" / "report-full.xml"
# Nothing listens on port 1 of the loopback address: connecting is refused at once.
UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/x"


def _faxpush(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env["FAXPUSH_SECRET_KEY"] = generate_key()
    return subprocess.run(
        [sys.executable, "-m", "faxpush.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_an_unreachable_database_fails_a_one_off_command_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    done = _faxpush("pushes", "list", "--database-url", UNREACHABLE_PG, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # no "retrying in" warnings before it
    assert lines[0].startswith("faxpush: cannot connect on postgresql://postgres@127.0.0.1:1/x")
    assert "check that the server is running" in lines[0]
    assert "reconnects" not in lines[0]  # this command does not; only long-running ones do
    assert elapsed < 5, f"took {elapsed:.1f} s"


def test_a_sqlite_file_in_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    done = _faxpush(
        "pushes", "list", "--database-url", "sqlite:///nonexistent-dir/x.db", cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "the directory 'nonexistent-dir'" in done.stderr
    assert "does not exist" in done.stderr
    assert list(tmp_path.iterdir()) == []  # neither the directory nor a key file appeared


def test_a_sqlite_file_in_an_existing_directory_is_created(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    done = _faxpush("pushes", "list", "--database-url", "sqlite:///data/x.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "x.db").is_file()


def test_push_send_echoes_a_url_that_is_not_one(tmp_path: Path) -> None:
    done = _faxpush(
        "push", "send", "not-a-url", str(REPORT), "--database-url", "memory://", cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "faxpush: the push URL not-a-url must be an absolute http:// or https:// URL\n"
    )
