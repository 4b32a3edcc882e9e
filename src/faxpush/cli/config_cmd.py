"""``faxpush config show``: every setting, its value and where the value came from."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from faxpush.cli._options import command_group
from faxpush.cli._settings import load_configuration
from faxpush.core.settings_sources import described, env_name

_SHOW_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush config show

  faxpush --config /etc/faxpush/faxpush.toml config show --json

  FAXPUSH_CONCURRENCY=128 faxpush config show
"""

app = command_group(
    "Show the configuration every command uses.",
    epilog=_SHOW_EXAMPLES,
)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "-"
    return str(value)


@app.command("show", epilog=_SHOW_EXAMPLES)
def show(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: setting -> value, source.")
    ] = False,
) -> None:
    """Print every setting with its value (credentials masked) and its source: default,
    the configuration file, a FAXPUSH_* variable or a flag.

    Lowest first: defaults, the file (faxpush --config FILE or FAXPUSH_CONFIG_FILE),
    FAXPUSH_* variables, flags. Only the file's settings are read, not its simulator
    rules or accounts.
    """
    loaded, _ = load_configuration({})
    rows = described(loaded)
    if as_json:
        document = {
            name: {"value": value, "source": str(source), "env": env_name(name)}
            for name, value, source in rows
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        sys.stdout.flush()
        return
    table = Table(box=None, pad_edge=False)
    for column in ("setting", "value", "source"):
        table.add_column(column, no_wrap=column != "value", overflow="fold")
    for name, value, source in rows:
        table.add_row(Text(name), Text(_text(value)), Text(str(source)))
    console = Console(soft_wrap=True)
    (console if console.is_terminal else Console(soft_wrap=True, width=200)).print(table)


__all__ = ["app"]
