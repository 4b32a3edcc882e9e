"""Running the receiver's CLI commands in subprocesses, as a user would."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "PYTHONPATH": str(REPO / "src"),
    "COLUMNS": "120",
    "NO_COLOR": "1",
    "TERM": "dumb",
}


def command(module: str, *args: str) -> list[str]:
    """``python -m faxpush.cli.<module> args`` (the commands before main.py registers them)."""
    return [sys.executable, "-m", f"faxpush.cli.{module}", *args]


def run(module: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(module, *args),
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        check=False,
    )


@dataclass
class Listener:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    base: str = ""
    token_url: str | None = None
    exit_code: int | None = None
    lines: list[str] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return self.base + path

    def output(self) -> str:
        return self.stdout.read_text()

    def receipts(self) -> list[dict[str, Any]]:
        """The --json lines printed so far."""
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.receipts()
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} receipts, got: {self.output()}")


def _open_file_limit(limit: int | None) -> Callable[[], None] | None:
    if limit is None:
        return None

    def apply() -> None:  # in the child, between fork and exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


@contextmanager
def listen(
    tmp_path: Path,
    *args: str,
    name: str = "listen",
    stop: signal.Signals = signal.SIGINT,
    open_files: int | None = None,
) -> Iterator[Listener]:
    """``faxpush listen --port 0 args`` until the block ends (then stopped with ``stop``);
    ``open_files`` lowers the child's open-file limit (soft and hard)."""
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    # Files, not pipes: a pipe nobody reads fills up and stalls the server's printing.
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command("listen", "--port", "0", *args),
            stdout=stdout,
            stderr=stderr,
            env=ENV,
            preexec_fn=_open_file_limit(open_files),
        )
    listener = Listener(process, out, err)
    try:
        deadline = time.monotonic() + 20
        while True:
            text = err.read_text()
            if "Press Ctrl+C" in text:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"faxpush listen did not start: {text}")
            time.sleep(0.02)
        match = re.search(r"receiving pushes on (https?://127\.0\.0\.1:\d+)/", text)
        assert match, text
        listener.base = match.group(1)
        token = re.search(r"OAuth2 token URL: (\S+)", text)
        listener.token_url = token.group(1) if token else None
        yield listener
    finally:
        if process.poll() is None:
            process.send_signal(stop)
        try:
            listener.exit_code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            listener.exit_code = process.wait(timeout=5)
