"""``faxpush receivers list``: per receiver origin, recent success, latency, backlog and
failures, read from the counters the store keeps as attempts are committed (the same rows
as ``GET /api/v1/receivers``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from faxpush.cli._json import JsonOption, print_json
from faxpush.cli._runtime import DatabaseOption, load_settings, run_with_store
from faxpush.core.errors import ConfigurationError
from faxpush.storage.base import Store
from faxpush.storage.json_views import oldest_pending_age, receiver_view
from faxpush.storage.operator import OperatorStore, ReceiverStats

app = typer.Typer(no_args_is_help=True, add_completion=False)

LIST_EXAMPLES: Final = """\
[bold]Examples[/bold]

  faxpush receivers list

  faxpush receivers list --json | jq '.receivers[] | select(.consecutiveFailures > 0)'
"""

_COLUMNS: Final = (
    "receiver",
    "1h attempts",
    "1h ok",
    "p50 ms",
    "p99 ms",
    "24h attempts",
    "24h ok",
    "pending",
    "oldest pending",
    "failing",
)


def _share(successes: int, attempts: int) -> str:
    return f"{100 * successes / attempts:.0f}%" if attempts else "-"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render_table(rows: list[ReceiverStats], now: datetime) -> Table:
    """The text table: one row per receiver; the last error of one whose latest attempts
    failed."""
    table = Table(box=None, pad_edge=False)
    for column in _COLUMNS:
        table.add_column(column, no_wrap=True, justify="left" if column == "receiver" else "right")
    table.add_column("last error", no_wrap=True, max_width=60, overflow="ellipsis")
    for row in rows:
        cells = (
            row.receiver,
            str(row.attempts_hour),
            _share(row.successes_hour, row.attempts_hour),
            _number(row.duration_p50_ms),
            _number(row.duration_p99_ms),
            str(row.attempts_day),
            _share(row.successes_day, row.attempts_day),
            str(row.pending),
            _age(oldest_pending_age(row, now)),
            str(row.consecutive_failures),
            (row.last_error or "") if row.consecutive_failures else "",
        )
        table.add_row(*(Text(cell) for cell in cells))
    return table


@app.callback(epilog=LIST_EXAMPLES)
def _group() -> None:
    """How each receiver is doing: success, latency, backlog."""


@app.command("list", epilog=LIST_EXAMPLES)
def list_receivers(database_url: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """One row per receiver origin (scheme://host:port) with pushes or recent attempts."""
    settings = load_settings(database_url=database_url)
    now = datetime.now(UTC)

    async def action(store: Store) -> list[ReceiverStats]:
        if not isinstance(store, OperatorStore):
            raise ConfigurationError(
                f"the {type(store).__name__} keeps no receiver statistics; "
                "use a SQLite or PostgreSQL database"
            )
        return await store.receiver_stats(now=now)

    rows = run_with_store(settings, action)
    if as_json:
        print_json({"receivers": [receiver_view(row, now) for row in rows]})
        return
    if not rows:
        typer.echo("no receivers: the outbox has no pushes and no recent attempts")
        return
    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console = Console(soft_wrap=True, width=200)
    console.print(render_table(rows, now))
