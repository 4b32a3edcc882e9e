"""The web console as the admin servers mount it beside the operator API."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp

from faxpush.console import ConsoleServices, build_console_app, session_key_for
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


__all__ = ["console_for"]
