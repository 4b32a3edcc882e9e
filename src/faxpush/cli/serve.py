"""``faxpush serve``: the Fax4A REST API v1 emulator, its simulator and the dispatcher."""

from __future__ import annotations

import os
from typing import Annotated, Final

import typer
from prometheus_client import CollectorRegistry

from faxpush._observe.metrics import Metrics
from faxpush.cli._console import admin_mounts
from faxpush.cli._errors import run
from faxpush.cli._event_loop import EventLoopOption, run_on_loop
from faxpush.cli._options import LogFormatOption
from faxpush.cli._runtime import DatabaseOption, configure_logging, notice
from faxpush.cli._settings import root_config_file
from faxpush.emulator.config import load_settings
from faxpush.emulator.serve import ServerInfo, banner, run_server

EXAMPLES: Final = """\
[bold]Examples[/bold]

  faxpush serve                                  # http://127.0.0.1:8080, SQLite faxpush.db
  faxpush serve --port 9000 --sim-speed 0        # transmissions finish at once
  faxpush serve --config faxpush.toml            # accounts and simulator rules from a file
  FAXPUSH_ALLOWED_NETWORKS=127.0.0.0/8 faxpush serve   # allow pushes to this machine
"""


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", help="Port to listen on (0 picks a free one).")
    ] = 8080,
    database_url: DatabaseOption = None,
    sim_speed: Annotated[
        float | None,
        typer.Option(
            "--sim-speed",
            help="Simulated time scale: 1 real time, 0.1 ten times faster, 0 instant "
            "(env FAXPUSH_SIM_SPEED, default 0.1).",
            show_default=False,
        ),
    ] = None,
    header_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds a request's head may take to arrive, then 408 and closed "
            "(env FAXPUSH_SERVE_HEADER_TIMEOUT, default 10).",
            show_default=False,
        ),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds a request's body may take to arrive after its head, then 408 "
            "(env FAXPUSH_SERVE_BODY_TIMEOUT, default 60).",
            show_default=False,
        ),
    ] = None,
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Open connections at most; more are answered 503 "
            "(env FAXPUSH_SERVE_MAX_CONNECTIONS, default 1000, less under a low open-file "
            "limit).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML file with settings, accounts and simulator rules (env FAXPUSH_CONFIG_FILE).",
            show_default=False,
        ),
    ] = None,
    log_format: LogFormatOption = None,
    event_loop: EventLoopOption = None,
) -> None:
    """Run the Fax4A REST API v1 emulator: accept fax jobs, simulate them, push their reports.

    API, simulator and dispatcher run in one process; Ctrl-C stops them.

    The first start creates a login and prints it with a curl line that sends a job.
    Requests that arrive too slowly are answered 408 and closed; connections over
    --max-connections are answered 503.
    """
    flags = {
        "database_url": database_url,
        "sim_speed": sim_speed,
        "config_file": config or root_config_file(),
        "serve_header_timeout": header_timeout,
        "serve_body_timeout": body_timeout,
        "serve_max_connections": max_connections,
        "event_loop": event_loop,
        "log_format": log_format,
    }
    settings, emulator_config = load_settings(os.environ, flags)
    configure_logging(settings.log_level, settings.log_format)
    metrics = Metrics(CollectorRegistry()) if settings.metrics else None

    def ready(info: ServerInfo) -> None:
        typer.echo(banner(info))
        typer.echo(
            f"Operator API: {info.url}/admin/api/v1 (token: 'faxpush admin token create NAME')"
        )
        typer.echo(
            f"Console: {info.url}/admin/ (log in with a user from 'faxpush admin user create "
            "NAME' or an API token)"
        )

    run_on_loop(
        lambda: run_server(
            settings,
            emulator_config,
            host=host,
            port=port,
            on_ready=ready,
            notify=notice,
            mounts=admin_mounts(settings, metrics=metrics),
            metrics=metrics,
        ),
        settings.event_loop,
    )


app = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})
app.command(epilog=EXAMPLES)(serve)

if __name__ == "__main__":
    run(app)
