"""``faxpush worker``: run the push dispatcher until SIGTERM or Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from faxpush.cli._event_loop import EventLoopOption, run_on_loop
from faxpush.cli._options import LogFormatOption
from faxpush.cli._runtime import (
    CaBundleOption,
    DatabaseOption,
    configure_logging,
    load_settings,
)
from faxpush.delivery.worker import run_worker

EXAMPLES = """\
[bold]Examples[/bold]

  faxpush worker

  FAXPUSH_DATABASE_URL=sqlite:////var/lib/faxpush/outbox.db faxpush worker --concurrency 128

  FAXPUSH_ALLOWED_NETWORKS=127.0.0.0/8 faxpush worker --log-level DEBUG

  faxpush worker --event-loop asyncio     # asyncio's own loop, not uvloop
"""


def worker(
    database_url: DatabaseOption = None,
    concurrency: Annotated[
        int | None,
        typer.Option(help="Pushes in flight at once [env FAXPUSH_CONCURRENCY, default 64]."),
    ] = None,
    per_host: Annotated[
        int | None,
        typer.Option(
            "--per-host",
            help="Pushes in flight to one receiver [env FAXPUSH_PER_HOST_CONCURRENCY, 16].",
        ),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="DEBUG, INFO, WARNING or ERROR [env FAXPUSH_LOG_LEVEL].")
    ] = None,
    log_format: LogFormatOption = None,
    ca_bundle: CaBundleOption = None,
    event_loop: EventLoopOption = None,
) -> None:
    """Deliver pushes from the outbox; one log line per attempt.

    Stops gracefully on SIGTERM or Ctrl-C: no new claims, in-flight pushes get
    FAXPUSH_SHUTDOWN_GRACE seconds to finish, the rest go back to the queue.
    """
    settings = load_settings(
        database_url=database_url,
        concurrency=concurrency,
        per_host_concurrency=per_host,
        log_level=log_level,
        log_format=log_format,
        ca_bundle=ca_bundle,
        event_loop=event_loop,
    )
    configure_logging(settings.log_level, settings.log_format)
    run_on_loop(lambda: run_worker(settings), settings.event_loop)
