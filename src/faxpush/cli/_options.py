"""Flags that several commands spell the same way: a push's layout and its auth."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from faxpush.core.formats import ReportFormat
from faxpush.core.models import AuthMethod
from faxpush.core.settings import LogFormat
from faxpush.core.targets import ClientAuthStyle


class PushLayout(StrEnum):
    """The default push layouts."""

    XML = "xml"
    JSON = "json"

    @property
    def report_format(self) -> ReportFormat:
        return ReportFormat(self.value)


class ClientAuthChoice(StrEnum):
    """How an OAuth2 client authenticates at the token endpoint, as the flag spells it."""

    BASIC = "basic"
    POST = "post"

    @property
    def style(self) -> ClientAuthStyle:
        if self is ClientAuthChoice.POST:
            return ClientAuthStyle.CLIENT_SECRET_POST
        return ClientAuthStyle.CLIENT_SECRET_BASIC


AuthOption = Annotated[
    AuthMethod, typer.Option("--auth", case_sensitive=False, help="Push auth method.")
]
PrincipalOption = Annotated[
    str | None, typer.Option(help="User, or OAuth2 client id.", metavar="USER")
]
LogFormatOption = Annotated[
    LogFormat | None,
    typer.Option(
        "--log-format",
        case_sensitive=False,
        help="Log lines on stderr: text, or json (one object per line) "
        "\\[env FAXPUSH_LOG_FORMAT, default text].",
        show_default=False,
    ),
]


def command_group(summary: str, epilog: str | None = None) -> typer.Typer:
    """A group of sub-commands (``faxpush accounts``, ``faxpush db`` ...): its help on a bare
    call and on ``-h`` too; tab completion is the top-level command's."""
    return typer.Typer(
        help=summary,
        epilog=epilog,
        no_args_is_help=True,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def credentials_option(envvar: str) -> Any:
    """``--credentials``, which may come from ``envvar`` instead (out of the shell history)."""
    return typer.Option(
        help=f"Password, or OAuth2 client secret (or set {envvar}).",
        envvar=envvar,
        show_envvar=False,
        metavar="SECRET",
    )


__all__ = [
    "AuthOption",
    "ClientAuthChoice",
    "LogFormatOption",
    "PrincipalOption",
    "PushLayout",
    "command_group",
    "credentials_option",
]
