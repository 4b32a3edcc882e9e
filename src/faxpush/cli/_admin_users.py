"""``faxpush admin user``: the web console's users (their passwords are stored hashed)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from faxpush.admin.server import operator_store
from faxpush.cli._options import command_group
from faxpush.cli._runtime import DatabaseOption, load_settings, run_with_store
from faxpush.core.errors import InputError
from faxpush.core.passwords import MAX_PASSWORD_LENGTH, check_new_password, hash_password
from faxpush.storage.base import Store
from faxpush.storage.operator import ConsoleUser

USER_EXAMPLES: Final = """\
[bold]Examples[/bold]

  faxpush admin user create alice                  # asks for the password twice
  printf '%s\\n' "$PASSWORD" | faxpush admin user create ci --password-stdin
  faxpush admin user list
  faxpush admin user delete alice
"""

user_app = command_group("Create, list and delete the web console's users.", epilog=USER_EXAMPLES)


def _password_from_stdin() -> str:
    """The first line of standard input, without its line ending."""
    line = sys.stdin.readline(MAX_PASSWORD_LENGTH + 2)
    return line.removesuffix("\n").removesuffix("\r")


def _password_from_prompt() -> str:
    if not sys.stdin.isatty():
        raise InputError(
            "standard input is not a terminal, so the password cannot be asked for; "
            "pass --password-stdin and write it on standard input"
        )
    password: str = typer.prompt(
        "Password",
        hide_input=True,
        confirmation_prompt=True,
        err=True,
        default="",
        show_default=False,
    )
    return password


@user_app.command("create", epilog=USER_EXAMPLES)
def create_user(
    name: Annotated[str, typer.Argument(help="The name to log in with.")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input instead of "
            "asking for it twice.",
        ),
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Create a console user; its password is asked for twice (or read with
    --password-stdin) and only a scrypt hash of it is stored."""
    settings = load_settings(database_url=database_url)
    password = _password_from_stdin() if password_stdin else _password_from_prompt()
    check_new_password(password)
    password_hash = hash_password(password)

    async def create(store: Store) -> ConsoleUser:
        return await operator_store(store).create_console_user(
            name, password_hash, now=datetime.now(UTC)
        )

    created = run_with_store(settings, create)
    typer.secho(f"faxpush: console user {created.name!r} created", err=True, fg=typer.colors.GREEN)


@user_app.command("list", epilog=USER_EXAMPLES)
def list_users(database_url: DatabaseOption = None) -> None:
    """List the console users (names and when they were created; never their passwords)."""
    settings = load_settings(database_url=database_url)

    async def read(store: Store) -> list[ConsoleUser]:
        return await operator_store(store).list_console_users()

    users = run_with_store(settings, read)
    if not users:
        typer.echo("no console users; create one with 'faxpush admin user create NAME'")
        return
    table = Table("name", "created")
    for user in users:
        created = user.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(Text(user.name), created)
    console = Console(soft_wrap=True)
    (console if console.is_terminal else Console(soft_wrap=True, width=200)).print(table)


@user_app.command("delete", epilog=USER_EXAMPLES)
def delete_user(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    database_url: DatabaseOption = None,
) -> None:
    """Delete a console user: it cannot log in any more."""
    settings = load_settings(database_url=database_url)

    async def delete(store: Store) -> bool:
        return await operator_store(store).delete_console_user(name)

    if not run_with_store(settings, delete):
        raise InputError(f"no console user named {name!r}; see 'faxpush admin user list'")
    typer.echo(f"console user {name!r} deleted")


__all__ = ["user_app"]
