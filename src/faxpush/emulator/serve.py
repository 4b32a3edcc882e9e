"""Run the emulator: REST API (uvicorn), simulator and dispatcher in one process.

:func:`run_server` opens the store named by the settings, applies the configuration file's
accounts, creates a first login when there is no account, and serves until ``stop`` is set
(or SIGTERM/SIGINT). Shutdown is graceful: the API stops accepting, the simulator stops,
the dispatcher drains its in-flight pushes.

The API is served like ``faxpush listen`` (:func:`~faxpush._serving.server.server_for`): a
request whose head or body arrives too slowly is answered 408 and closed, connections over
the limit are answered 503, so slow clients cannot hold every descriptor of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from starlette.types import ASGIApp

from faxpush._observe.health import store_readiness, with_health
from faxpush._observe.metrics import Metrics
from faxpush._serving.limits import ServerLimits, describe_limits, open_file_limit, server_limits
from faxpush._serving.server import server_for, socket_url, wait_started
from faxpush._signals import install_stop_signals
from faxpush.core.clock import utcnow
from faxpush.core.errors import ConfigurationError, FaxpushError
from faxpush.core.settings import Settings
from faxpush.delivery.worker import delivery_engine
from faxpush.emulator.accounts import FirstLogin, apply_config, ensure_first_login
from faxpush.emulator.app import EmulatorServices, build_app
from faxpush.emulator.auth import BasicAuthenticator
from faxpush.emulator.config import EmulatorConfig
from faxpush.emulator.dedup import duplicate_since
from faxpush.emulator.offload import HeavyWork
from faxpush.emulator.simulator import Simulator
from faxpush.emulator.writer import JobWriter
from faxpush.heap import settle_heap
from faxpush.storage.base import Store
from faxpush.storage.factory import open_configured_store
from faxpush.storage.jobs_base import JobStore
from faxpush.storage.jobs_factory import open_jobs

logger = logging.getLogger("faxpush.emulator")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What a started server tells its operator."""

    url: str  # base URL, e.g. http://127.0.0.1:8080
    first_login: FirstLogin | None
    example_login: tuple[str, str] | None  # (customer number, login) for the examples
    services: EmulatorServices
    limits: ServerLimits  # the API server's read deadlines and connection limit

    @property
    def api_url(self) -> str:
        return self.url + "/rest/v1"


SAMPLE_JOB: Final = {
    "recipients": [{"number": "+12015551000"}],
    "documents": [{"name": "hello.txt", "data": "SGVsbG8sIGZheCEK"}],
}


def banner(info: ServerInfo) -> str:
    """What ``faxpush serve`` prints once it listens: URLs, the first login, curl lines."""
    settings = info.services.settings
    lines = [
        f"faxpush serve: listening on {info.url}",
        f"  REST API  {info.api_url}   (docs: {info.url}/docs)",
        f"  database  {settings.database_url}   simulated time x{settings.sim_speed:g}",
        f"  limits    {describe_limits(info.limits, open_file_limit())}",
    ]
    if info.first_login is not None:
        first = info.first_login
        lines.append(
            f"  created customer number {first.customer_number} with login {first.login} "
            f"and password {first.password} (shown only now)"
        )
        customer, user = first.customer_number, f"{first.login}:{first.password}"
    elif info.example_login is not None:
        customer, user = info.example_login[0], f"{info.example_login[1]}:PASSWORD"
    else:
        lines.append("  no login yet: add one with 'faxpush accounts add CUSTNR --login ...'")
        return "\n".join(lines)
    base = f"{info.api_url}/{customer}/fax"
    body = json.dumps(SAMPLE_JOB, separators=(",", ":"))
    lines += [
        "Send a job:",
        f"  curl -u {shlex.quote(user)} -H 'Content-Type: application/json' "
        f"-d {shlex.quote(body)} {base}",
        "Read its report (use the jobId it answered):",
        f"  curl -u {shlex.quote(user)} {base}/reports/JOBID",
    ]
    return "\n".join(lines)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: a free one)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another port with --port (0 picks a free one)"
        ) from None
    return sock


async def run_server(
    settings: Settings,
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[ServerInfo], None] | None = None,
    handle_signals: bool = True,
    notify: Callable[[str], None] = logger.warning,
    mounts: Callable[[Store, Callable[[], None], JobStore], Mapping[str, ASGIApp]] | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Serve the REST API, run the simulator and the dispatcher until ``stop``; GET
    /healthz, /readyz and /metrics (from ``metrics``, None: off) answer beside the API."""
    config = config or EmulatorConfig()
    stop = stop or asyncio.Event()
    if handle_signals:
        install_stop_signals(stop)
    sock = bind_socket(host, port)
    try:
        store = await open_configured_store(settings, notify=notify)
    except BaseException:
        sock.close()
        raise
    try:
        jobs = await open_jobs(store)
        now = datetime.now(UTC)
        await apply_config(store, jobs, config, now=now)
        first_login = await ensure_first_login(store, jobs, now=now)
        logins = await jobs.list_logins()
        example = (logins[0].customer_number, logins[0].login) if logins else None
        async with delivery_engine(store, settings, metrics=metrics) as engine:
            heavy = HeavyWork()
            simulator = Simulator(
                store, jobs, settings, on_push=engine.dispatcher.wake, heavy=heavy
            )
            window = settings.duplicate_window_seconds
            writer = JobWriter(
                jobs, clock=utcnow, duplicate_since=lambda now: duplicate_since(now, window)
            )
            services = EmulatorServices(
                store=store,
                jobs=jobs,
                settings=settings,
                simulator=simulator,
                simulator_config=config.simulator,
                authenticator=BasicAuthenticator(jobs),
                writer=writer,
                heavy=heavy,
            )
            api = build_app(services)
            # Apps beside the REST API (the operator API and console at /admin), given the
            # store, the dispatcher's wake-up and the job store; the CLI composes them, the
            # emulator knows none.
            beside = mounts(store, engine.dispatcher.wake, jobs) if mounts else {}
            for path, mounted in beside.items():
                api.mount(path, mounted)
            limits = server_limits(settings)
            server = server_for(
                with_health(api, store_readiness(store), metrics),
                limits,
                lifespan="off",
                handle_signals=False,  # the caller's stop event rules
                log_config=None,
            )
            dispatcher_stop = asyncio.Event()
            dispatching = asyncio.create_task(engine.dispatcher.run(dispatcher_stop))
            simulating = asyncio.create_task(simulator.run(stop))
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            try:
                await wait_started(server, serving)
                if handle_signals:  # the process is ours and runs long: see settle_heap
                    settle_heap()
                if on_ready is not None:
                    on_ready(ServerInfo(socket_url(sock), first_login, example, services, limits))
                await _until_stopped(stop, (dispatching, simulating, serving))
            finally:
                stop.set()
                server.should_exit = True
                await asyncio.gather(serving, simulating, return_exceptions=True)
                await writer.close()
                dispatcher_stop.set()
                await asyncio.gather(dispatching, return_exceptions=True)
            for task in (serving, simulating, dispatching):
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise FaxpushError(f"the server failed: {task.exception()}")
    finally:
        sock.close()
        await store.close()


async def _until_stopped(stop: asyncio.Event, tasks: tuple[asyncio.Task[None], ...]) -> None:
    """Wait for ``stop``, or for any part to end on its own (which is a failure)."""
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({stopping, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
