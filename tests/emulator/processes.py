"""``faxpush serve`` in a subprocess (``python -m faxpush.cli.serve``), for CLI and crash tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from faxpush.storage.cipher import generate_key

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
CREATED = re.compile(r"created customer number (\S+) with login (\S+) and password (\S+)")
SECRET_KEY = generate_key()


@dataclass
class ServeProcess:
    process: asyncio.subprocess.Process
    url: str
    lines: list[str] = field(default_factory=list)
    created: tuple[str, str, str] | None = None  # customer number, login, password

    async def terminate(self, *, within: float = 20.0) -> int:
        """SIGTERM, then wait for a graceful exit; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), within)

    async def kill(self) -> None:
        """SIGKILL: no shutdown at all."""
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 10)


def serve_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env.update(
        FAXPUSH_SECRET_KEY=SECRET_KEY,
        FAXPUSH_ALLOWED_NETWORKS="127.0.0.0/8",
        FAXPUSH_POLL_INTERVAL="0.1",
        FAXPUSH_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


async def start_serve(
    database: Path,
    *args: str,
    env: dict[str, str] | None = None,
    within: float = 20.0,
    stderr: Path | None = None,
) -> ServeProcess:
    """Start the server on a free port and read its banner up to the report example;
    its stderr goes to the file ``stderr`` (default: nowhere)."""
    with contextlib.ExitStack() as files:
        error_file = None if stderr is None else files.enter_context(stderr.open("wb"))
        return await _start_serve(database, args, env, within, error_file)


async def _start_serve(
    database: Path,
    args: tuple[str, ...],
    env: dict[str, str] | None,
    within: float,
    error_file: BinaryIO | None,
) -> ServeProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "faxpush.cli.serve",
        "--port",
        "0",
        "--database-url",
        f"sqlite:///{database}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL if error_file is None else error_file,
        stdin=asyncio.subprocess.DEVNULL,
        env=env or serve_env(),
    )
    assert process.stdout is not None
    lines: list[str] = []
    url = None
    try:
        async with asyncio.timeout(within):
            while True:
                raw = await process.stdout.readline()
                assert raw, f"faxpush serve exited early: {lines}"
                line = raw.decode().rstrip("\n")
                lines.append(line)
                if (match := LISTENING.search(line)) is not None:
                    url = match.group(1)
                if "Read its report" in line or "no login yet" in line:
                    break
    except BaseException:
        process.kill()
        await process.wait()
        raise
    assert url is not None
    found = [m for m in map(CREATED.search, lines) if m is not None]
    created = (found[0].group(1), found[0].group(2), found[0].group(3)) if found else None
    return ServeProcess(process, url, lines, created)
