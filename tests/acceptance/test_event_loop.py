"""The event loop choice through the real commands: ``worker``, ``serve`` and ``listen`` log
(or refuse) the loop that ``FAXPUSH_EVENT_LOOP`` and ``--event-loop`` ask for.

"uvloop is not installed" is played by a ``uvloop`` module on ``PYTHONPATH`` that fails to
import, as a missing one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.emulator.processes import serve_env, start_serve
from tests.receiver.cli import listen
from tests.receiver.test_listen_limits import good_push, slow_clients
from tests.samples import sample

CLI = [sys.executable, "-m", "faxpush.cli"]
LOOP_LINE = re.compile(r"faxpush\.loop: event loop: (\S+)")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env["FAXPUSH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'outbox.db'}"
    return env | extra


def _without_uvloop(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    stub = tmp_path / "no-uvloop"
    stub.mkdir(exist_ok=True)
    (stub / "uvloop.py").write_text("raise ImportError('uvloop is not installed here')\n")
    paths = [str(stub), *filter(None, [env.get("PYTHONPATH")])]
    return env | {"PYTHONPATH": os.pathsep.join(paths)}


async def _worker_log(env: dict[str, str], *flags: str) -> str:
    """Start ``faxpush worker``, wait for its start-up line, stop it; its stderr."""
    worker = await asyncio.create_subprocess_exec(
        *CLI, "worker", *flags, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert worker.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any("delivering from" in line for line in seen):
                line = (await worker.stderr.readline()).decode()
                assert line, f"the worker exited early: {seen}"
                seen.append(line)
    finally:
        worker.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(worker.stderr.read(), 30)
        await asyncio.wait_for(worker.wait(), 30)
    assert worker.returncode == 0
    return "".join(seen) + rest.decode()


def _loop_in(log: str) -> str:
    found = LOOP_LINE.findall(log)
    assert len(found) == 1, log
    return str(found[0])


@pytest.mark.parametrize(
    ("variable", "flags", "expected"),
    [
        (None, (), "uvloop"),
        ("asyncio", (), "asyncio"),
        ("uvloop", (), "uvloop"),
        (None, ("--event-loop", "asyncio"), "asyncio"),
        ("asyncio", ("--event-loop", "UVLOOP"), "uvloop"),  # the flag wins
    ],
)
async def test_the_worker_runs_on_the_loop_asked_for(
    tmp_path: Path, variable: str | None, flags: tuple[str, ...], expected: str
) -> None:
    extra = {} if variable is None else {"FAXPUSH_EVENT_LOOP": variable}
    log = await _worker_log(_env(tmp_path, **extra), *flags)
    assert _loop_in(log) == expected
    assert "worker stopped" in log


async def test_auto_falls_back_to_asyncio_where_uvloop_is_missing(tmp_path: Path) -> None:
    log = await _worker_log(_without_uvloop(tmp_path, _env(tmp_path)))
    assert _loop_in(log) == "asyncio"
    assert "(setting: auto)" in log


@pytest.mark.parametrize(
    "command_line", [["worker"], ["listen", "--port", "0"], ["serve", "--port", "0"]]
)
def test_uvloop_asked_for_but_missing_is_one_line_and_exit_2(
    tmp_path: Path, command_line: list[str]
) -> None:
    env = _without_uvloop(tmp_path, _env(tmp_path, FAXPUSH_EVENT_LOOP="uvloop"))
    done = subprocess.run(
        [*CLI, *command_line], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("faxpush: the event loop is set to uvloop")
    assert "pip install uvloop" in line


async def test_serve_logs_its_loop(tmp_path: Path) -> None:
    err = tmp_path / "serve.err"
    env = serve_env(FAXPUSH_LOG_LEVEL="INFO", FAXPUSH_EVENT_LOOP="asyncio")
    server = await start_serve(tmp_path / "jobs.db", env=env, stderr=err)
    assert await server.terminate() == 0
    assert _loop_in(err.read_text()) == "asyncio"


@pytest.mark.parametrize("choice", ["auto", "asyncio"])
def test_listen_receives_on_either_loop(tmp_path: Path, choice: str) -> None:
    with listen(tmp_path, "--json", "--inbox", "memory://", "--event-loop", choice) as listener:
        answer = requests.post(
            listener.url("/fax/status"),
            data=sample("report-full.xml"),
            headers={"Content-Type": "text/xml; charset=UTF-8"},
            timeout=10,
        )
        (receipt,) = listener.wait_for(1)
    assert answer.status_code == 200
    assert receipt["outcome"] == "stored"
    assert listener.exit_code == 0


def test_on_uvloop_running_out_of_files_closes_connections_quietly_and_recovers(
    tmp_path: Path,
) -> None:
    # asyncio stops accepting for a second and logs the failure (throttled, see
    # test_listen_limits.py); libuv accepts and closes at once on a descriptor it keeps in
    # reserve, so the client learns at once and nothing is logged.
    limits = ("--max-connections", "500", "--header-timeout", "2", "--inbox", "memory://")
    with listen(tmp_path, *limits, "--event-loop", "uvloop", open_files=64) as listener:
        with slow_clients(listener, 120, b"POST /fax/status HTTP/1.1\r\nHo"):
            time.sleep(1.0)
            with pytest.raises(requests.ConnectionError):
                good_push(listener)
        deadline = time.monotonic() + 8
        while True:
            with contextlib.suppress(requests.ConnectionError):
                if good_push(listener).status_code == 200:
                    break
            assert time.monotonic() < deadline, listener.stderr.read_text()[-2000:]
            time.sleep(0.2)
        stderr = listener.stderr.read_text()
    assert "open-file limit" in stderr  # the banner's warning is the same on either loop
    assert "Too many open files" not in stderr
    assert "Traceback" not in stderr
    assert listener.exit_code == 0
