"""``faxpush admin``: serve the operator HTTP API, and manage its API tokens and console
users (``_admin_users``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

import typer
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.table import Table
from rich.text import Text

from faxpush._observe.metrics import Metrics
from faxpush.admin.server import AdminServerInfo, operator_store, run_admin
from faxpush.admin.tokens import new_token, token_hash
from faxpush.cli._admin_users import user_app
from faxpush.cli._console import console_for
from faxpush.cli._event_loop import EventLoopOption, run_on_loop
from faxpush.cli._options import LogFormatOption, command_group
from faxpush.cli._runtime import (
    DatabaseOption,
    configure_logging,
    load_settings,
    notice,
    run_with_store,
)
from faxpush.core.errors import InputError
from faxpush.storage.base import Store
from faxpush.storage.operator import ApiToken, TokenScope

SERVE_EXAMPLES: Final = """\
[bold]Examples[/bold]

  faxpush admin token create ops --scope write     # prints the token once
  faxpush admin serve                              # http://127.0.0.1:8470
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8470/api/v1/pushes?state=failed
  faxpush admin serve --listen 0.0.0.0:8470        # reachable from other machines
"""

ACCESS_EXAMPLES: Final = """\
[bold]Examples[/bold]

  faxpush admin token create ci --scope write
  faxpush admin token create dashboard             # read-only
  faxpush admin token list
  faxpush admin token revoke ci
"""

app = command_group(
    "The operator HTTP API: serve it, and manage its API tokens and console users.",
    epilog=SERVE_EXAMPLES,
)
token_app = command_group(
    "Create, list and revoke operator API tokens.",
    epilog=ACCESS_EXAMPLES,
)
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")


@app.command("serve", epilog=SERVE_EXAMPLES)
def serve(
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            "-l",
            metavar="HOST:PORT",
            help="Address to listen on; port 0 picks a free one "
            "\\[env FAXPUSH_ADMIN_LISTEN, default 127.0.0.1:8470].",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseOption = None,
    log_format: LogFormatOption = None,
    event_loop: EventLoopOption = None,
) -> None:
    """Serve the operator API (/api/v1, /openapi.json) with /healthz, /readyz and /metrics.

    Every API call needs 'Authorization: Bearer <token>' (see 'faxpush admin token').
    It queues pushes; 'faxpush worker' delivers them. Ctrl-C stops it.
    """
    settings = load_settings(
        database_url=database_url,
        admin_listen=listen,
        log_format=log_format,
        event_loop=event_loop,
    )
    configure_logging(settings.log_level, settings.log_format)
    metrics = Metrics(CollectorRegistry()) if settings.metrics else None

    def ready(info: AdminServerInfo) -> None:
        typer.echo(info.banner(settings.database_url))

    run_on_loop(
        lambda: run_admin(
            settings, on_ready=ready, notify=notice, metrics=metrics, beside=console_for(None)
        ),
        settings.event_loop,
    )


@token_app.command("create", epilog=ACCESS_EXAMPLES)
def create_token(
    name: Annotated[str, typer.Argument(help="A name for the token, e.g. who uses it.")],
    scope: Annotated[
        TokenScope,
        typer.Option(case_sensitive=False, help="read: queries only; write: also ingest and act."),
    ] = TokenScope.READ,
    database_url: DatabaseOption = None,
) -> None:
    """Create an API token and print it once (only its SHA-256 hash is stored)."""
    settings = load_settings(database_url=database_url)
    token = new_token()

    async def create(store: Store) -> ApiToken:
        return await operator_store(store).create_api_token(
            name, scope, token_hash(token), now=datetime.now(UTC)
        )

    created = run_with_store(settings, create)
    typer.echo(token)
    typer.secho(
        f"faxpush: token {created.name!r} ({created.scope.value}) created; it is shown only "
        "now, store it safely",
        err=True,
        fg=typer.colors.GREEN,
    )


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@token_app.command("list", epilog=ACCESS_EXAMPLES)
def list_tokens(database_url: DatabaseOption = None) -> None:
    """List the API tokens (names and scopes; the tokens themselves are not kept)."""
    settings = load_settings(database_url=database_url)

    async def read(store: Store) -> list[ApiToken]:
        return await operator_store(store).list_api_tokens()

    tokens = run_with_store(settings, read)
    if not tokens:
        typer.echo("no API tokens; create one with 'faxpush admin token create NAME'")
        return
    table = Table("name", "scope", "created", "last used", "revoked")
    for token in tokens:
        table.add_row(
            Text(token.name),
            token.scope.value,
            _when(token.created_at),
            _when(token.last_used_at),
            _when(token.revoked_at),
        )
    console = Console(soft_wrap=True)
    (console if console.is_terminal else Console(soft_wrap=True, width=200)).print(table)


@token_app.command("revoke", epilog=ACCESS_EXAMPLES)
def revoke_token(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    database_url: DatabaseOption = None,
) -> None:
    """Revoke an API token: it is refused from now on (its name stays taken)."""
    settings = load_settings(database_url=database_url)

    async def revoke(store: Store) -> bool:
        return await operator_store(store).revoke_api_token(name, now=datetime.now(UTC))

    if not run_with_store(settings, revoke):
        raise InputError(f"no unrevoked API token named {name!r}; see 'faxpush admin token list'")
    typer.echo(f"token {name!r} revoked")


__all__ = ["app"]
