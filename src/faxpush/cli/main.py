"""The ``faxpush`` command: the root Typer app and the console-script entry point.

Each command group lives in its own module exposing ``app``; registering one is a single
``app.add_typer(...)`` line below. Failures are reported centrally by :func:`._errors.run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, NoReturn

import typer

from faxpush._version import __version__
from faxpush.cli import (
    accounts,
    admin,
    check_endpoint,
    config_cmd,
    db,
    listen,
    openapi_cmd,
    push,
    pushes,
    report,
    secrets,
    serve,
    worker,
)
from faxpush.cli._errors import PROG_NAME, run
from faxpush.cli._settings import RootConfigOption

app = typer.Typer(
    name=PROG_NAME,
    help="Fax4A HTTP status push (v1): render, parse and deliver fax job status reports.",
    epilog="Run [bold]faxpush COMMAND --help[/bold] for examples.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.add_typer(report.app, name="report")
app.command("worker", epilog=worker.EXAMPLES)(worker.worker)
app.add_typer(push.app, name="push")
app.add_typer(pushes.app, name="pushes")
app.command("secret-key", epilog=secrets.KEY_EXAMPLES)(secrets.secret_key)
app.add_typer(secrets.app, name="secrets")
app.add_typer(db.app, name="db")
app.command("serve", epilog=serve.EXAMPLES)(serve.serve)
app.add_typer(accounts.app, name="accounts")
app.command("listen", epilog=listen.EPILOG)(listen.listen)
app.command("check-endpoint", epilog=check_endpoint.EPILOG)(check_endpoint.check_endpoint)
app.add_typer(config_cmd.app, name="config")
app.add_typer(openapi_cmd.app, name="openapi")
app.add_typer(admin.app, name="admin")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG_NAME} {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    config: RootConfigOption = None,
) -> None:
    """Fax4A HTTP status push (v1): render, parse and deliver fax job status reports."""


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point: run the CLI and exit with its status."""
    run(app, argv)


if __name__ == "__main__":
    main()
