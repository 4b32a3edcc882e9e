"""``faxpush openapi``: print OpenAPI descriptions (``push``: the status push operation,
``admin``: the operator API)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from faxpush.admin.openapi import admin_openapi_document
from faxpush.cli._options import command_group
from faxpush.receiver.openapi import openapi_bytes

_PUSH_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush openapi push > status-push.json

  faxpush openapi push --server-url https://hooks.example.org --path /fax/status \\
      --token-url https://auth.example.org/oauth2/token
"""

_ADMIN_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush openapi admin > operator-api.json
"""

app = command_group(
    "Print OpenAPI descriptions of the HTTP APIs faxpush speaks.",
    epilog=_PUSH_EXAMPLES + "\n  faxpush openapi admin > operator-api.json\n",
)


@app.callback()
def _group() -> None:
    """Print OpenAPI descriptions of the HTTP APIs faxpush speaks."""


@app.command(epilog=_PUSH_EXAMPLES)
def push(
    server_url: Annotated[
        str | None,
        typer.Option(help="Receiver base URL to put in 'servers' (default: an example)."),
    ] = None,
    path: Annotated[str, typer.Option(help="The push path to describe.")] = "/",
    token_url: Annotated[
        str | None, typer.Option(help="The OAuth2 token URL to put in the security scheme.")
    ] = None,
) -> None:
    """Print the OpenAPI 3.1 description of the status push (JSON): both body formats,
    the answers and the four security schemes."""
    if not path.startswith("/"):
        raise typer.BadParameter("must start with '/'", param_hint="--path")
    sys.stdout.buffer.write(openapi_bytes(server_url=server_url, path=path, token_url=token_url))
    sys.stdout.buffer.flush()


@app.command(epilog=_ADMIN_EXAMPLES)
def admin() -> None:
    """Print the OpenAPI 3.1 description of the operator API ('faxpush admin serve'; also
    served at /openapi.json, and at /admin/openapi.json by 'faxpush serve')."""
    sys.stdout.write(json.dumps(admin_openapi_document(), indent=2) + "\n")
    sys.stdout.flush()


__all__ = ["app"]


if __name__ == "__main__":
    from faxpush.cli._errors import run

    run(app)
