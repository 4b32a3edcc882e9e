"""``make run``: ``faxpush serve`` with a built-in demo receiver and one sample job.

Starts a receiver on a free loopback port that prints every push it gets (served like
``faxpush listen``, with its read deadlines and connection limit), then the emulator
(SQLite in a temporary directory, pushes to loopback allowed, simulated time x0.05), sends
one sample job whose status push goes to that receiver, and prints the job's progress as
the simulator dials. Keeps serving until Ctrl-C, so you can send more jobs with the printed
``curl`` line. ``python -m faxpush.emulator.demo [--port N]``; ``make run`` starts it
through ``python -m faxpush.cli.demo``, which also mounts the operator API and console at
``/admin`` and creates a console user for it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

import aiohttp
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from faxpush import _loop
from faxpush._serving.limits import ServerLimits
from faxpush._serving.server import QuietServer, server_for, wait_started
from faxpush.core.errors import FaxpushError
from faxpush.core.passwords import hash_password
from faxpush.core.settings import Settings
from faxpush.emulator.serve import ServerInfo, banner, bind_socket, run_server
from faxpush.storage.base import Store
from faxpush.storage.cipher import generate_key
from faxpush.storage.jobs_base import JobStore
from faxpush.storage.operator import OperatorStore

# Given the demo's settings: the apps to mount beside the REST API (see run_server's mounts).
MountsFor = Callable[
    [Settings], Callable[[Store, Callable[[], None], JobStore], Mapping[str, ASGIApp]]
]
CONSOLE_USER: Final = "demo"

DEMO_SPEED: Final = 0.05
FOLLOW_SECONDS: Final = 60.0
SAMPLE_TEXT: Final = "Invoice 2024-05\n\nAmount due: 129.00 EUR within 14 days.\n"
RECEIVER_LIMITS: Final = ServerLimits(max_connections=100)  # one push per job is expected


def sample_job(push_url: str) -> dict[str, Any]:
    """Two recipients: one answers at once, one is busy until its alternative number."""
    data = base64.b64encode(SAMPLE_TEXT.encode()).decode("ascii")
    return {
        "reference": {"customerDefinedId": "demo-invoice-2024-05"},
        "recipients": [
            {"number": "+12015551000", "properties": [{"key": "ToName", "value": "Ada"}]},
            {"number": "+12125550101", "alternativeNumbers": ["+12125551000"]},
        ],
        "documents": [{"name": "invoice.txt", "charset": "UTF-8", "data": data}],
        "renderingOptions": {"coverpageTemplate": "coverpage-default.ftl.html"},
        "statusReportOptions": {"httpStatusPush": {"targetUrl": push_url}},
    }


def receiver_app(out: TextIO, arrived: asyncio.Event) -> Starlette:
    """A receiver that prints each push and answers 200."""

    async def receive(request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # hung up, or closed by the server's body deadline
            return Response(status_code=408)
        out.write(
            f"\n<< push received: {request.method} {request.url.path}\n"
            f"   Content-Type: {request.headers.get('Content-Type')}\n"
            f"   Faxpush-Delivery-Id: {request.headers.get('Faxpush-Delivery-Id')}\n\n"
            f"{body.decode('utf-8', errors='replace')}\n"
        )
        out.flush()
        arrived.set()
        return PlainTextResponse("received")

    return Starlette(routes=[Route("/{tail:path}", receive, methods=["POST"])])


def receiver_server(out: TextIO, arrived: asyncio.Event) -> QuietServer:
    """The demo receiver's server: :data:`RECEIVER_LIMITS`, signals left to the demo."""
    return server_for(
        receiver_app(out, arrived),
        RECEIVER_LIMITS,
        lifespan="off",
        handle_signals=False,
        log_config=None,
    )


def _progress(report: dict[str, Any]) -> str:
    return ", ".join(
        f"{r['number']} {r['status']}"
        + (f" (via {r['sentToNumber']})" if r["status"] != "PENDING" else "")
        for r in report["recipientStatus"]
    )


async def follow_job(info: ServerInfo, push_url: str, out: TextIO) -> None:
    """Send the sample job and print its report whenever it changes, until it is final."""
    first = info.first_login
    assert first is not None, "the demo database is new, so a first login was created"
    token = base64.b64encode(f"{first.login}:{first.password}".encode()).decode("ascii")
    auth = f"Basic {token}"
    base = f"{info.api_url}/{first.customer_number}/fax"
    headers = {"Authorization": auth}
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        async with session.post(base, json=sample_job(push_url)) as response:
            answer = await response.json()
        job_id = answer["jobId"]
        out.write(f"\n>> sample job sent: {response.status} {json.dumps(answer)}\n")
        last = ""
        async with asyncio.timeout(FOLLOW_SECONDS):
            while True:
                async with session.get(f"{base}/reports/{job_id}") as response:
                    report = await response.json()
                shown = _progress(report)
                if shown != last:
                    out.write(f"   report: {shown}\n")
                    out.flush()
                    last = shown
                if all(r["status"] != "PENDING" for r in report["recipientStatus"]):
                    return
                await asyncio.sleep(0.1)


async def run_demo(
    *,
    port: int = 8080,
    workdir: Path,
    out: TextIO = sys.stdout,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    on_push: Callable[[], None] | None = None,
    speed: float = DEMO_SPEED,
    mounts_for: MountsFor | None = None,
) -> None:
    """Run receiver, emulator and the sample job until ``stop`` (or Ctrl-C); with
    ``mounts_for``, also the apps it mounts (the operator console at ``/admin``)."""
    stop = stop or asyncio.Event()
    arrived = asyncio.Event()
    receiver = receiver_server(out, arrived)
    receiver_socket = bind_socket("127.0.0.1", 0)
    receiving = asyncio.create_task(receiver.serve(sockets=[receiver_socket]))
    try:
        await wait_started(receiver, receiving)
        push_url = f"http://127.0.0.1:{receiver_socket.getsockname()[1]}/fax/status"
        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{workdir / 'demo.db'}",
                "secret_key": generate_key(),
                "allowed_networks": "127.0.0.0/8",
                "sim_speed": speed,
            }
        )
        ready: asyncio.Queue[ServerInfo] = asyncio.Queue()
        out.write(f"faxpush demo: a receiver at {push_url} prints every push it gets\n")
        port = _free_or_any(port)
        server = asyncio.create_task(
            run_server(
                settings,
                host="127.0.0.1",
                port=port,
                stop=stop,
                on_ready=ready.put_nowait,
                handle_signals=handle_signals,
                mounts=None if mounts_for is None else mounts_for(settings),
            )
        )
        info = await _first(ready, server)
        out.write(banner(info) + "\n")
        if mounts_for is not None:
            out.write(await _console_login(info))
        await follow_job(info, push_url, out)
        async with asyncio.timeout(FOLLOW_SECONDS):
            await arrived.wait()
        if on_push is not None:
            on_push()
        out.write(
            "\nThe demo keeps serving: send more jobs with the curl line above. Ctrl-C stops.\n"
        )
        out.flush()
        await server
    finally:
        stop.set()
        receiver.should_exit = True
        await asyncio.gather(receiving, return_exceptions=True)
        receiver_socket.close()


async def _console_login(info: ServerInfo) -> str:
    """Create the demo's console user; the line that says where and how to log in."""
    store = info.services.store
    if not isinstance(store, OperatorStore):  # the demo's SQLite store always is one
        return f"  console   {info.url}/admin/\n"
    password = secrets.token_urlsafe(12)
    await store.create_console_user(CONSOLE_USER, hash_password(password), now=datetime.now(UTC))
    return (
        f"  console   {info.url}/admin/   user {CONSOLE_USER}, password {password} "
        "(shown only now)\n"
    )


def _free_or_any(port: int) -> int:
    """``port`` when it is free on 127.0.0.1, else 0 (any free port)."""
    try:
        bind_socket("127.0.0.1", port).close()
    except FaxpushError:
        return 0
    return port


async def _first(ready: asyncio.Queue[ServerInfo], server: asyncio.Task[None]) -> ServerInfo:
    getting = asyncio.create_task(ready.get())
    done, _ = await asyncio.wait({getting, server}, return_when=asyncio.FIRST_COMPLETED)
    if getting not in done:
        getting.cancel()
        server.result()
        raise FaxpushError("the emulator stopped before it was ready")
    return getting.result()


def main(argv: Sequence[str] | None = None, *, mounts_for: MountsFor | None = None) -> int:
    """Entry point of ``python -m faxpush.emulator.demo`` (and, with ``mounts_for``, of
    ``python -m faxpush.cli.demo``)."""
    parser = argparse.ArgumentParser(prog="python -m faxpush.emulator.demo")
    parser.add_argument("--port", type=int, default=8080, help="API port (default 8080)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="faxpush-demo-") as workdir:
        try:
            # of the demo's settings, only the event loop comes from the environment
            env = {"FAXPUSH_EVENT_LOOP": os.environ.get("FAXPUSH_EVENT_LOOP", "")}
            choice = Settings.from_env(env).event_loop
            _loop.run(
                lambda: run_demo(port=args.port, workdir=Path(workdir), mounts_for=mounts_for),
                choice,
            )
        except FaxpushError as exc:
            sys.stderr.write(f"faxpush demo: {exc}\n")
            return 1
        except KeyboardInterrupt:
            return 130
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.write("faxpush demo stopped\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
