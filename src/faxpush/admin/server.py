"""Run ``faxpush admin``: the operator API at ``/`` with the health routes, on one port.

The server is built like ``faxpush serve``'s (:func:`~faxpush._serving.server.server_for`):
requests that arrive too slowly are answered 408, connections over the limit 503. It does
not deliver: ``faxpush worker`` (or ``faxpush serve``) sends what it queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from faxpush._observe.health import health_routes
from faxpush._observe.metrics import Metrics
from faxpush._serving.limits import server_limits
from faxpush._serving.server import bind, server_for, socket_url, wait_started
from faxpush._signals import install_stop_signals
from faxpush.admin.app import AdminServices, build_admin_app
from faxpush.core.errors import ConfigurationError, FaxpushError
from faxpush.core.settings import Settings
from faxpush.heap import settle_heap
from faxpush.storage.base import Store
from faxpush.storage.factory import open_configured_store
from faxpush.storage.operator import OperatorStore

logger = logging.getLogger("faxpush.admin")


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8470`` for IPv6) as a pair; a ConfigurationError otherwise."""
    host, _, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(
            f"admin_listen {text!r} is not host:port; use e.g. 127.0.0.1:8470 or [::1]:8470"
        )
    return host, int(port)


def operator_store(store: Store) -> OperatorStore:
    """``store`` as an OperatorStore, or a ConfigurationError naming what it lacks."""
    if not isinstance(store, OperatorStore):
        raise ConfigurationError(
            f"the {type(store).__name__} does not support the operator API; "
            "use a SQLite or PostgreSQL database"
        )
    return store


def counting_enqueues(metrics: Metrics | None) -> Callable[[int], None]:
    """An ``on_enqueue`` that counts queued pushes in ``metrics`` (None: counts nothing)."""

    def counted(count: int) -> None:
        if metrics is not None and count:
            metrics.pushes_queued.inc(count)

    return counted


# Given the operator store and the on_enqueue callback, an app served beside the API at
# every path the API does not take (the web console, composed by the CLI).
Beside = Callable[[OperatorStore, Callable[[int], None]], ASGIApp]
_API_PATHS = ("/openapi.json", "/healthz", "/readyz", "/metrics")


def with_beside(api: ASGIApp, beside: ASGIApp) -> ASGIApp:
    """``api`` for its own paths (``/api/...``, ``/openapi.json`` and the health routes),
    ``beside`` for every other one."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path, root = scope.get("path", ""), scope.get("root_path", "")
        route = path[len(root) :] if root and path.startswith(root) else path
        is_api = route == "/api" or route.startswith("/api/") or route in _API_PATHS
        await (api if is_api or scope["type"] != "http" else beside)(scope, receive, send)

    return app


def embedded_admin_app(
    store: Store,
    settings: Settings,
    *,
    wake: Callable[[], None],
    metrics: Metrics | None,
    beside: Beside | None = None,
) -> ASGIApp:
    """The operator API for another server to mount (``faxpush serve`` at ``/admin``): over
    its store, waking its dispatcher when pushes are queued. Health routes are the host's;
    ``beside`` (the console) serves the other paths."""
    counted = counting_enqueues(metrics)

    def queued(count: int) -> None:
        counted(count)
        wake()

    services = AdminServices(store=operator_store(store), settings=settings, on_enqueue=queued)
    api = build_admin_app(services)
    return api if beside is None else with_beside(api, beside(services.store, queued))


@dataclass(frozen=True, slots=True)
class AdminServerInfo:
    """What a started admin server tells its operator."""

    url: str  # e.g. http://127.0.0.1:8470

    def banner(self, database_url: str) -> str:
        return "\n".join(
            [
                f"faxpush admin: listening on {self.url}",
                f"  console   {self.url}/   (log in with 'faxpush admin user create NAME' "
                "or an API token)",
                f"  API       {self.url}/api/v1   (OpenAPI: {self.url}/openapi.json)",
                f"  health    {self.url}/healthz  {self.url}/readyz",
                f"  database  {database_url}",
                "  every API call needs 'Authorization: Bearer <token>' "
                "(faxpush admin token create NAME --scope write)",
            ]
        )


async def run_admin(
    settings: Settings,
    *,
    listen: str | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[AdminServerInfo], None] | None = None,
    handle_signals: bool = True,
    notify: Callable[[str], None] = logger.warning,
    metrics: Metrics | None = None,
    beside: Beside | None = None,
) -> None:
    """Serve the operator API on ``listen`` (default: ``settings.admin_listen``) with
    ``/healthz``, ``/readyz`` and ``/metrics`` (None: metrics off) until ``stop`` is set
    (or SIGTERM/SIGINT); ``beside`` (the console) serves every other path."""
    host, port = parse_listen(listen or settings.admin_listen)
    stop = stop or asyncio.Event()
    if handle_signals:
        install_stop_signals(stop)
    sock = bind(host, port)
    try:
        store = operator_store(await open_configured_store(settings, notify=notify))
    except BaseException:
        sock.close()
        raise
    try:
        if metrics is not None:
            metrics.watch_store(store)
        services = AdminServices(
            store=store, settings=settings, on_enqueue=counting_enqueues(metrics)
        )
        api = build_admin_app(services, extra_routes=health_routes(store.readiness, metrics))
        app = api if beside is None else with_beside(api, beside(store, services.on_enqueue))
        server = server_for(
            app, server_limits(settings), lifespan="off", handle_signals=False, log_config=None
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await wait_started(server, serving, name="the admin HTTP server")
            if handle_signals:  # the process is ours and runs long: see settle_heap
                settle_heap()
            if on_ready is not None:
                on_ready(AdminServerInfo(socket_url(sock)))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({stopping, serving}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopping
        finally:
            server.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)
        if serving.done() and not serving.cancelled() and serving.exception() is not None:
            raise FaxpushError(f"the admin server failed: {serving.exception()}")
    finally:
        sock.close()
        await store.close()


__all__ = [
    "AdminServerInfo",
    "Beside",
    "counting_enqueues",
    "embedded_admin_app",
    "operator_store",
    "parse_listen",
    "run_admin",
    "server_limits",
    "with_beside",
]
