"""The web console as the admin servers mount it beside the operator API."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.types import ASGIApp

from faxpush._observe.metrics import Metrics
from faxpush.admin.server import embedded_admin_app
from faxpush.console import ConsoleServices, build_console_app, session_key_for
from faxpush.core.settings import Settings
from faxpush.storage.base import Store
from faxpush.storage.jobs_base import JobStore
from faxpush.storage.operator import OperatorStore


def console_for(
    jobs: JobStore | None,
) -> Callable[[OperatorStore, Callable[[int], None]], ASGIApp]:
    """The console over the API's store (and ``jobs``, for the Jobs page), waking the
    dispatcher through ``on_enqueue`` when it puts pushes back in the queue."""

    def build(store: OperatorStore, on_enqueue: Callable[[int], None]) -> ASGIApp:
        services = ConsoleServices(
            store=store, session_key=session_key_for(store), jobs=jobs, on_enqueue=on_enqueue
        )
        return build_console_app(services)

    return build


def admin_mounts(
    settings: Settings, *, metrics: Metrics | None
) -> Callable[[Store, Callable[[], None], JobStore], Mapping[str, ASGIApp]]:
    """What ``faxpush serve`` mounts beside its REST API: the operator API and the console
    at ``/admin``, over its store, waking its dispatcher."""

    def mounts(store: Store, wake: Callable[[], None], jobs: JobStore) -> Mapping[str, ASGIApp]:
        admin = embedded_admin_app(
            store, settings, wake=wake, metrics=metrics, beside=console_for(jobs)
        )
        return {"/admin": admin}

    return mounts


__all__ = ["admin_mounts", "console_for"]
