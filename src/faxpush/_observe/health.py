"""``/healthz``, ``/readyz`` and ``/metrics``: the same three routes on every process.

* ``GET /healthz``: 200 while the process answers (nothing else is asked);
* ``GET /readyz``: 200 when the readiness check returns None (the database answers and its
  schema is current), else 503 with the reason as JSON; a check that takes longer than
  :data:`READY_TIMEOUT_S` counts as not ready;
* ``GET /metrics``: the Prometheus exposition of the process's registry (404 when metrics
  are off).

:func:`health_routes` gives them as Starlette routes for an app to mount; :func:`with_health`
puts them in front of an app that takes every path itself (the receiver takes POSTs to any
path), answering only GET and HEAD at those three paths and passing everything else on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol, runtime_checkable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from faxpush._observe.metrics import Metrics
from faxpush.core.errors import StorageError

Readiness = Callable[[], Awaitable[str | None]]
"""None when ready, else why not (one line an operator can act on)."""

HEALTH_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
READY_TIMEOUT_S: Final = 5.0
_JSON: Final = "application/json"


def _json(status: int, document: Mapping[str, object]) -> Response:
    return Response(json.dumps(document), status_code=status, media_type=_JSON)


def health_routes(readiness: Readiness, metrics: Metrics | None) -> list[Route]:
    """The three routes, answering from ``readiness`` and ``metrics`` (None: metrics off)."""

    async def healthz(_request: Request) -> Response:
        return _json(200, {"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            reason = await asyncio.wait_for(readiness(), READY_TIMEOUT_S)
        except TimeoutError:
            reason = f"the database did not answer within {READY_TIMEOUT_S:g} s"
        except StorageError as exc:
            reason = str(exc)
        if reason is None:
            return _json(200, {"status": "ready"})
        return _json(503, {"error": "not_ready", "message": reason})

    async def metrics_page(_request: Request) -> Response:
        if metrics is None:
            return _json(
                404,
                {"error": "metrics_off", "message": "metrics are off; set FAXPUSH_METRICS=true"},
            )
        await metrics.before_scrape()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    methods = ["GET", "HEAD"]
    return [
        Route("/healthz", healthz, methods=methods),
        Route("/readyz", readyz, methods=methods),
        Route("/metrics", metrics_page, methods=methods),
    ]


def health_app(readiness: Readiness, metrics: Metrics | None) -> ASGIApp:
    """An ASGI app serving only the three routes (the worker's ``--http`` port)."""
    return Router(routes=health_routes(readiness, metrics))


def with_health(app: ASGIApp, readiness: Readiness, metrics: Metrics | None) -> ASGIApp:
    """``app`` with GET and HEAD of the three paths answered in front of it."""
    health = health_app(readiness, metrics)

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] in HEALTH_PATHS
            and scope["method"] in ("GET", "HEAD")
        ):
            await health(scope, receive, send)
        else:
            await app(scope, receive, send)

    return routed


@runtime_checkable
class _KnowsReadiness(Protocol):
    async def readiness(self) -> str | None: ...


class _Counts(Protocol):
    async def count_by_state(self) -> Mapping[Any, int]: ...


def store_readiness(store: _Counts) -> Readiness:
    """The readiness of a store: its own ``readiness()`` when it has one, else whether a
    count of its pushes answers."""
    if isinstance(store, _KnowsReadiness):
        return store.readiness

    async def answers() -> str | None:
        try:
            await store.count_by_state()
        except StorageError as exc:
            return str(exc)
        return None

    return answers


__all__ = [
    "HEALTH_PATHS",
    "READY_TIMEOUT_S",
    "Readiness",
    "health_app",
    "health_routes",
    "store_readiness",
    "with_health",
]
