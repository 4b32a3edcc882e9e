"""``faxpush accounts``: customer numbers, REST API logins and default push settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar

import typer

from faxpush.cli._accounts_view import account_line, account_view
from faxpush.cli._errors import run
from faxpush.cli._json import JsonOption, print_json
from faxpush.cli._options import command_group
from faxpush.cli._runtime import DatabaseOption, opened_store
from faxpush.cli._settings import load_configuration
from faxpush.core.errors import InputError
from faxpush.core.targets import Account
from faxpush.emulator.accounts import save_login, updated_account
from faxpush.emulator.config import AccountChanges
from faxpush.storage.base import Store
from faxpush.storage.jobs_base import JobStore, Login
from faxpush.storage.jobs_factory import open_jobs

T = TypeVar("T")

ADD_EXAMPLES: Final = """\
  faxpush accounts add 99999TE --login alice --password 's3cret'
  faxpush accounts add 99999TE --login bob --password pw2 --push-format json \\
      --push-url https://hooks.example.org/fax --push-auth HTTP_BASIC \\
      --push-principal hook --push-credentials hookpw
"""
SET_EXAMPLES: Final = """\
  faxpush accounts set 99999TE --push-template acme.xml.j2
  faxpush accounts set 99999TE --ca-file hooks-ca.pem \\
      --client-cert faxpush-client.pem --client-key faxpush-client.key
  faxpush accounts set 99999TE --login alice --password 'n3w'
"""
LIST_EXAMPLES: Final = """\
  faxpush accounts list
  faxpush accounts list --json
"""
SHOW_EXAMPLES: Final = """\
  faxpush accounts show 99999TE
"""
_HEADING: Final = "[bold]Examples[/bold]\n\n"
EXAMPLES: Final = _HEADING + ADD_EXAMPLES + SET_EXAMPLES + LIST_EXAMPLES + SHOW_EXAMPLES

app = command_group(
    "Customer numbers, REST API logins and their default push settings (faxpush serve).",
    epilog=EXAMPLES,
)

CustomerArgument = Annotated[str, typer.Argument(help="Customer number, e.g. 99999TE.")]
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", "-c", help="TOML configuration file.", show_default=False),
]


def _setting(flag: str, help_text: str) -> Any:
    # No default is shown: an absent flag leaves the setting as it is.
    return typer.Option(flag, help=help_text, show_default=False)


PushFormatOption = Annotated[str | None, _setting("--push-format", "xml (default) or json.")]
PushTemplateOption = Annotated[
    str | None,
    _setting("--push-template", "Jinja2 push layout file (*.xml.j2, *.json.j2, ...)."),
]
PushUrlOption = Annotated[
    str | None,
    _setting("--push-url", "Default push URL for jobs without httpStatusPush ('' removes it)."),
]
PushAuthOption = Annotated[
    str | None, _setting("--push-auth", "NONE, HTTP_BASIC, HTTP_DIGEST or OAUTH2.")
]
PrincipalOption = Annotated[str | None, _setting("--push-principal", "User or OAuth2 client id.")]
CredentialsOption = Annotated[
    str | None,
    _setting("--push-credentials", "Password or OAuth2 client secret (stored encrypted)."),
]
TokenUrlOption = Annotated[
    str | None, _setting("--oauth2-token-url", "Token endpoint for OAUTH2 pushes.")
]
CaFileOption = Annotated[
    str | None,
    _setting(
        "--ca-file",
        "PEM file of CA certificates trusted for this account's push and token URLs, "
        "besides the system's and FAXPUSH_CA_BUNDLE ('' removes them).",
    ),
]
ClientCertOption = Annotated[
    str | None,
    _setting(
        "--client-cert",
        "PEM client certificate (chain) presented to receivers: mutual TLS "
        "('' removes it; give --client-key too).",
    ),
]
ClientKeyOption = Annotated[
    str | None,
    _setting("--client-key", "PEM private key of --client-cert, unencrypted (stored encrypted)."),
]


def _with_stores(
    database_url: str | None, config: str | None, action: Callable[[Store, JobStore], Awaitable[T]]
) -> T:
    loaded, _ = load_configuration(
        {"database_url": database_url, "config_file": config}, emulator=True
    )
    settings = loaded.settings

    async def main() -> T:
        async with opened_store(settings) as store:
            return await action(store, await open_jobs(store))

    return asyncio.run(main())


@app.command("add", epilog=_HEADING + ADD_EXAMPLES)
def add(
    ctx: typer.Context,
    customer_number: CustomerArgument,
    login: Annotated[str, typer.Option("--login", help="Login of the REST API user.")],
    password: Annotated[str, typer.Option("--password", help="Its password (stored hashed).")],
    push_format: PushFormatOption = None,
    push_template: PushTemplateOption = None,
    push_url: PushUrlOption = None,
    push_auth: PushAuthOption = None,
    push_principal: PrincipalOption = None,
    push_credentials: CredentialsOption = None,
    oauth2_token_url: TokenUrlOption = None,
    ca_file: CaFileOption = None,
    client_cert: ClientCertOption = None,
    client_key: ClientKeyOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a login to a customer number (created when new), with optional push settings."""
    # The push settings reach updated_account through ctx.params, by their names.

    async def action(store: Store, jobs: JobStore) -> None:
        if await jobs.get_login(login) is not None:
            raise InputError(
                f"login {login!r} exists already; change its password with 'faxpush accounts set'"
            )
        existing = await store.get_account(customer_number)
        changes = AccountChanges.picked(ctx.params)
        account = updated_account(existing or Account(customer_number), changes)
        await store.put_account(account)
        await save_login(jobs, login, customer_number, now=datetime.now(UTC), password=password)
        created = "created" if existing is None else "updated"
        typer.echo(f"customer number {customer_number} {created}; login {login} added")

    _with_stores(database_url, config, action)


@app.command("set", epilog=_HEADING + SET_EXAMPLES)
def set_(
    ctx: typer.Context,
    customer_number: CustomerArgument,
    login: Annotated[
        str | None,
        typer.Option("--login", help="Login whose password to set (with --password)."),
    ] = None,
    password: Annotated[
        str | None, typer.Option("--password", help="New password for --login.")
    ] = None,
    push_format: PushFormatOption = None,
    push_template: PushTemplateOption = None,
    push_url: PushUrlOption = None,
    push_auth: PushAuthOption = None,
    push_principal: PrincipalOption = None,
    push_credentials: CredentialsOption = None,
    oauth2_token_url: TokenUrlOption = None,
    retry_client_errors: Annotated[
        bool | None,
        typer.Option(
            "--retry-client-errors/--no-retry-client-errors",
            help="Retry pushes answered with 4xx.",
            show_default=False,
        ),
    ] = None,
    ca_file: CaFileOption = None,
    client_cert: ClientCertOption = None,
    client_key: ClientKeyOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Change an existing customer number's push settings or a login's password."""
    # The push settings reach updated_account through ctx.params, by their names.
    if (login is None) != (password is None):
        raise InputError("give --login and --password together")

    async def action(store: Store, jobs: JobStore) -> None:
        existing = await store.get_account(customer_number)
        if existing is None:
            raise InputError(
                f"customer number {customer_number} does not exist; add it with "
                "'faxpush accounts add'"
            )
        account = updated_account(existing, AccountChanges.picked(ctx.params))
        await store.put_account(account)
        if login is not None:
            await save_login(jobs, login, customer_number, now=datetime.now(UTC), password=password)
        typer.echo(f"customer number {customer_number} updated")

    _with_stores(database_url, config, action)


@app.command("list", epilog=_HEADING + LIST_EXAMPLES)
def list_(
    database_url: DatabaseOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """List customer numbers, their logins and push settings (never credentials)."""

    async def action(store: Store, jobs: JobStore) -> list[tuple[Account, list[Login]]]:
        return [
            (account, await jobs.list_logins(account.customer_number))
            for account in await store.list_accounts()
        ]

    accounts = _with_stores(database_url, config, action)
    if as_json:
        print_json({"accounts": [account_view(*entry) for entry in accounts]})
    elif not accounts:
        typer.echo("no accounts yet; add one with 'faxpush accounts add'")
    else:
        typer.echo("\n".join(account_line(*entry) for entry in accounts))


@app.command("show", epilog=_HEADING + SHOW_EXAMPLES)
def show(
    customer_number: CustomerArgument,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one customer number's push settings and logins (never credentials)."""

    async def action(store: Store, jobs: JobStore) -> tuple[Account, list[Login]] | None:
        account = await store.get_account(customer_number)
        if account is None:
            return None
        return account, await jobs.list_logins(customer_number)

    found = _with_stores(database_url, config, action)
    if found is None:
        raise InputError(
            f"customer number {customer_number} does not exist; see 'faxpush accounts list'"
        )
    if as_json:
        print_json(account_view(*found))
        return
    for key, value in account_view(*found).items():
        if key == "logins":
            value = ", ".join(entry["login"] for entry in value) or "-"
        elif key == "tls":
            value = ", ".join(name for name, is_set in value.items() if is_set) or "-"
        typer.echo(f"{key:<24} {'-' if value is None else value}")


if __name__ == "__main__":
    run(app)
