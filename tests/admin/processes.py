"""``faxpush admin serve`` in a subprocess, and the token CLI in process."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from typer.testing import CliRunner, Result

from faxpush.cli.main import app
from tests.emulator.processes import serve_env

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def admin_env(database_url: str) -> dict[str, str]:
    return serve_env(FAXPUSH_DATABASE_URL=database_url)


def faxpush(database_url: str, *args: str) -> Result:
    """A CLI command in process (the server itself runs in a subprocess)."""
    return CliRunner().invoke(app, list(args), env=admin_env(database_url))


def create_token(database_url: str, name: str, scope: str = "write") -> str:
    done = faxpush(database_url, "admin", "token", "create", name, "--scope", scope)
    assert done.exit_code == 0, done.output
    token = done.stdout.strip()
    assert token.startswith("fxp_")
    assert "\n" not in token
    assert "shown only now" in done.stderr
    return token


@asynccontextmanager
async def admin_process(database_url: str, *args: str) -> AsyncIterator[str]:
    """``faxpush admin serve`` on a free port; yields its URL, then stops it (exit 0)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "faxpush.cli.main",
        "admin",
        "serve",
        "--listen",
        "127.0.0.1:0",
        *args,
        env=admin_env(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            while (match := LISTENING.search((await process.stdout.readline()).decode())) is None:
                assert process.returncode is None
        yield match.group(1)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
    assert code == 0
