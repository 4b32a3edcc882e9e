"""``faxpush worker``: run the push dispatcher until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry

from faxpush._loop import loop_factory
from faxpush._observe.health import health_app, store_readiness
from faxpush._observe.metrics import Metrics
from faxpush.cli._event_loop import EventLoopOption, run_on_loop
from faxpush.cli._options import LogFormatOption
from faxpush.cli._runtime import (
    CaBundleOption,
    DatabaseOption,
    configure_logging,
    load_settings,
    notice,
)
from faxpush.core.settings import split_host_port
from faxpush.delivery.worker import run_worker
from faxpush.storage.base import Store
from faxpush.storage.factory import cipher_from_settings

logger = logging.getLogger("faxpush.worker")

EXAMPLES = """\
[bold]Examples[/bold]

  faxpush worker

  FAXPUSH_DATABASE_URL=sqlite:////var/lib/faxpush/outbox.db faxpush worker --concurrency 128

  FAXPUSH_ALLOWED_NETWORKS=127.0.0.0/8 faxpush worker --log-level DEBUG

  faxpush worker --event-loop asyncio     # asyncio's own loop, not uvloop

  faxpush worker --http 127.0.0.1:9464     # /healthz, /readyz and /metrics on that port
"""


def worker(
    database_url: DatabaseOption = None,
    concurrency: Annotated[
        int | None,
        typer.Option(help="Pushes in flight at once \\[env FAXPUSH_CONCURRENCY, default 64]."),
    ] = None,
    per_host: Annotated[
        int | None,
        typer.Option(
            "--per-host",
            help="Pushes in flight to one receiver "
            "\\[env FAXPUSH_PER_HOST_CONCURRENCY, default 16].",
        ),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="DEBUG, INFO, WARNING or ERROR \\[env FAXPUSH_LOG_LEVEL].")
    ] = None,
    log_format: LogFormatOption = None,
    ca_bundle: CaBundleOption = None,
    event_loop: EventLoopOption = None,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            help="Serve /healthz, /readyz and /metrics at host:port, e.g. 127.0.0.1:9464 "
            "\\[env FAXPUSH_WORKER_HTTP, default off].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Deliver pushes from the outbox; one log line per attempt.

    Stops gracefully on SIGTERM or Ctrl-C: no new claims, in-flight pushes get
    FAXPUSH_SHUTDOWN_GRACE seconds to finish, the rest go back to the queue.
    With --http, a small HTTP port answers health checks and Prometheus scrapes.
    """
    settings = load_settings(
        database_url=database_url,
        concurrency=concurrency,
        per_host_concurrency=per_host,
        log_level=log_level,
        log_format=log_format,
        ca_bundle=ca_bundle,
        event_loop=event_loop,
        worker_http=http,
    )
    # A missing event loop or secret key is one line, before anything is logged or started.
    loop_factory(settings.event_loop)
    cipher_from_settings(settings, notify=notice)
    configure_logging(settings.log_level, settings.log_format)
    metrics = Metrics(CollectorRegistry()) if settings.metrics else None
    if settings.worker_http is None:
        run_on_loop(lambda: run_worker(settings, metrics=metrics), settings.event_loop)
        return
    from faxpush._serving.server import bind  # imports uvicorn: only to serve

    # A port in use fails here, before the worker starts.
    sock = bind(*split_host_port(settings.worker_http), fix="choose another address with --http")
    try:
        run_on_loop(
            lambda: run_worker(
                settings, metrics=metrics, beside=lambda store: _serve_health(sock, store, metrics)
            ),
            settings.event_loop,
        )
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def _serve_health(
    sock: socket.socket, store: Store, metrics: Metrics | None
) -> AsyncIterator[None]:
    """The worker's small HTTP port, served on the worker's loop while it delivers."""
    from faxpush._serving.server import server_for

    server = server_for(
        health_app(store_readiness(store), metrics),
        lifespan="off",
        handle_signals=False,  # the worker's stop signals rule
        log_config=None,
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    logger.info("health and metrics on http://%s/ (healthz, readyz, metrics)", _shown(sock))
    try:
        yield
    finally:
        server.should_exit = True
        await serving


def _shown(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
