"""The ``faxpush`` command: the root Typer app and the console-script entry point.

Commands are registered lazily: the root group knows each command's name, its one-line
summary and where it lives, and imports a command's module only when that command runs (or
its own ``--help`` is asked for). Importing every module up front cost about 0.75 s before
``faxpush --help`` printed anything, most of it aiohttp, uvicorn, asyncpg, pypdf and lxml;
``docs/benchmarks.md`` ("CLI start-up") has the numbers. A new command is one
:data:`COMMANDS` entry. Failures are reported centrally by :func:`._errors.run`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Final, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command, get_group

from faxpush._version import __version__
from faxpush.cli._errors import PROG_NAME, run
from faxpush.cli._settings import RootConfigOption


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """Where a command lives: ``module``'s Typer ``app``, or its function ``function`` with
    the examples in ``epilog``; ``summary`` is its line in ``faxpush --help``."""

    module: str
    summary: str
    function: str | None = None
    epilog: str | None = None

    def load(self, name: str) -> Any:
        """The click command: imports the module (and its dependencies) now."""
        module = importlib.import_module(f"faxpush.cli.{self.module}")
        if self.function is None:
            group = get_group(module.app)
            group.name = name
            _one_line_summaries(group)
            return group
        single = typer.Typer(add_completion=False)
        epilog = getattr(module, self.epilog) if self.epilog else None
        single.command(name, epilog=epilog)(getattr(module, self.function))
        command = get_command(single)
        command.name = name
        return command


def _one_line_summaries(group: TyperGroup) -> None:
    """Give each sub-command a summary of one paragraph in one line: the list of a group's
    commands otherwise keeps the line breaks of the docstring, which break mid-sentence."""
    for command in group.commands.values():
        if command.short_help is None and command.help:
            first = inspect.cleandoc(command.help).split("\n\n")[0]
            command.short_help = " ".join(first.split())
        if isinstance(command, TyperGroup):
            _one_line_summaries(command)


COMMANDS: Final = {
    "worker": LazyCommand(
        "worker",
        "Deliver pushes from the outbox; one log line per attempt.",
        function="worker",
        epilog="EXAMPLES",
    ),
    "secret-key": LazyCommand(
        "secrets",
        "Print a new random key (Fernet format: urlsafe base64 of 32 bytes) "
        "for FAXPUSH_SECRET_KEY.",
        function="secret_key",
        epilog="KEY_EXAMPLES",
    ),
    "serve": LazyCommand(
        "serve",
        "Run the Fax4A REST API v1 emulator: accept fax jobs, simulate them, push their reports.",
        function="serve",
        epilog="EXAMPLES",
    ),
    "listen": LazyCommand(
        "listen",
        "Receive status pushes locally and print each one (job id, recipients, auth result).",
        function="listen",
        epilog="EPILOG",
    ),
    "check-endpoint": LazyCommand(
        "check_endpoint",
        "Check a push endpoint: golden pushes in XML and JSON must be accepted (2xx), a "
        "duplicate answered the same, an oversized body, a malformed body and wrong "
        "credentials refused (4xx). Exit status 0 only when every check passed.",
        function="check_endpoint",
        epilog="EPILOG",
    ),
    "report": LazyCommand(
        "report",
        "Render fax job reports as push bodies, or parse and validate push bodies.",
    ),
    "push": LazyCommand("push", "Send a single push right now."),
    "pushes": LazyCommand("pushes", "Inspect the outbox and redeliver pushes."),
    "receivers": LazyCommand("receivers", "How each receiver is doing: success, latency, backlog."),
    "secrets": LazyCommand("secrets", "Manage the encryption of stored credentials."),
    "db": LazyCommand(
        "db",
        "Manage the database: create or upgrade its schema, back up a SQLite outbox, copy an "
        "outbox into PostgreSQL.",
    ),
    "accounts": LazyCommand(
        "accounts",
        "Customer numbers, REST API logins and their default push settings (faxpush serve).",
    ),
    "config": LazyCommand("config_cmd", "Show the configuration every command uses."),
    "openapi": LazyCommand(
        "openapi_cmd", "Print OpenAPI descriptions of the HTTP APIs faxpush speaks."
    ),
    "admin": LazyCommand(
        "admin", "The operator HTTP API: serve it, and manage its API tokens and console users."
    ),
}


class LazyGroup(TyperGroup):
    """The root group: loads a command when it is resolved; lists summaries without loading.

    ``commands`` holds a stand-in per command (name and summary, as the help listing, shell
    completion and the did-you-mean suggestions read them); the loaded ones are kept apart.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = {
            name: TyperCommand(name, help=lazy.summary, short_help=lazy.summary)
            for name, lazy in COMMANDS.items()
        }
        self._loaded: dict[str, Any] = {}
        self._listing = False

    @contextmanager
    def _summaries_only(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        lazy = COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        if self._listing:
            return self.commands[cmd_name]
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = lazy.load(cmd_name)
        return self._loaded[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self._summaries_only():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        with self._summaries_only():
            return super().shell_complete(ctx, incomplete)


app = typer.Typer(
    cls=LazyGroup,
    name=PROG_NAME,
    help="Fax4A HTTP status push (v1): render, parse and deliver fax job status reports.",
    epilog="[bold]Examples[/bold]\n\n"
    "  faxpush report sample | faxpush report parse -\n\n"
    "  faxpush --config /etc/faxpush/faxpush.toml worker\n\n"
    "  Run [bold]faxpush COMMAND --help[/bold] for each command's own examples; "
    "[bold]faxpush --install-completion[/bold] sets up tab completion in your shell.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
