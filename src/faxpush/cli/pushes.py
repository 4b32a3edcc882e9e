"""``faxpush pushes list|show|redeliver``: look into the outbox and replay pushes.

Everything printed from the outbox (URLs, ids, error messages, response bodies) goes out as
:class:`~rich.text.Text`, never as a markup string: ``http://[fd00:ec2::254]/meta`` would
otherwise lose its address as an unknown style tag.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from faxpush.cli._json import JsonOption, print_json
from faxpush.cli._options import command_group
from faxpush.cli._runtime import DatabaseOption, load_settings, run_with_store
from faxpush.core.errors import InputError
from faxpush.core.urls import display_url
from faxpush.storage.base import AttemptRecord, PushRecord, PushState, Store
from faxpush.storage.json_views import push_detail_view, push_location, push_view

_LIST_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush pushes list

  faxpush pushes list --state failed --limit 20

  faxpush pushes list --state failed --json | jq -r '.pushes[].deliveryId'
"""

_SHOW_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush pushes show 0b6f3c1e-5c1d-4f0e-9a51-2f0d6a9c8e11

  faxpush pushes show 0b6f3c1e-5c1d-4f0e-9a51-2f0d6a9c8e11 --json
"""

_REDELIVER_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush pushes redeliver 0b6f3c1e-5c1d-4f0e-9a51-2f0d6a9c8e11

  faxpush pushes redeliver --failed-since 2024-05-06T00:00:00Z
"""

app = command_group(
    "Inspect the outbox and redeliver pushes.",
    epilog=_LIST_EXAMPLES
    + "\n  faxpush pushes show DELIVERY_ID\n\n  faxpush pushes redeliver DELIVERY_ID\n",
)


def _console() -> Console:
    """A console that does not squeeze tables to 80 columns when output is piped."""
    console = Console(soft_wrap=True)
    return console if console.is_terminal else Console(soft_wrap=True, width=200)


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@app.command("list", epilog=_LIST_EXAMPLES)
def list_pushes(
    state: Annotated[PushState | None, typer.Option(help="Only pushes in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows at most.")] = 50,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List pushes, newest first, with a count per state."""
    settings = load_settings(database_url=database_url)

    async def action(store: Store) -> tuple[list[PushRecord], dict[PushState, int]]:
        return await store.list_pushes(state=state, limit=limit), await store.count_by_state()

    pushes, counts = run_with_store(settings, action)
    if as_json:
        print_json(
            {
                "pushes": [push_view(p, push_location(p.delivery_id)) for p in pushes],
                "counts": {s.value: counts.get(s, 0) for s in PushState},
            }
        )
        return
    table = Table(box=None, pad_edge=False)
    for column in ("delivery id", "job id", "state", "attempts", "next attempt", "url"):
        table.add_column(column, no_wrap=True)
    table.add_column("last error", no_wrap=True, max_width=60, overflow="ellipsis")
    for push in pushes:
        cells = (
            push.delivery_id,
            push.job_id,
            push.state.value,
            str(push.attempts),
            _when(push.next_attempt_at) if push.state is PushState.PENDING else "-",
            display_url(push.target.url),
            push.last_error or "",
        )
        table.add_row(*(Text(cell) for cell in cells))
    console = _console()
    console.print(table)
    console.print(Text("  ".join(f"{s.value}: {n}" for s, n in counts.items())))


@app.command("show", epilog=_SHOW_EXAMPLES)
def show(
    delivery_id: Annotated[str, typer.Argument(help="The push's delivery id.")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one push and every attempt made for it."""
    settings = load_settings(database_url=database_url)

    async def action(store: Store) -> tuple[PushRecord | None, list[AttemptRecord]]:
        return await store.get_push(delivery_id), await store.list_attempts(delivery_id)

    push, attempts = run_with_store(settings, action)
    if push is None:
        raise InputError(f"no push with delivery id {delivery_id!r}; see `faxpush pushes list`")
    if as_json:
        print_json(push_detail_view(push, attempts, push_location(delivery_id)))
        return
    console = _console()
    target = push.target
    console.print(Text.assemble((f"push {push.delivery_id}", "bold"), f"  job {push.job_id}"))
    lines = [
        f"  state      {push.state.value} after {push.attempts} attempt(s)",
        f"  url        {display_url(target.url)}  auth {target.auth_method.value}",
        f"  body       {len(push.body)} bytes, {push.content_type}",
        f"  created    {_when(push.created_at)}  updated {_when(push.updated_at)}",
    ]
    if push.state is PushState.PENDING:
        lines.append(f"  next       {_when(push.next_attempt_at)}")
    if push.last_error:
        lines.append(f"  last error {push.last_error}")
    for line in lines:
        console.print(Text(line))
    table = Table(box=None, pad_edge=False)
    for column in ("#", "started", "ms", "status"):
        table.add_column(column, no_wrap=True)
    for column in ("error", "auth steps", "response"):
        table.add_column(column, max_width=60, overflow="fold")
    for attempt in attempts:
        cells = (
            str(attempt.number),
            _when(attempt.started_at),
            f"{attempt.duration_ms:.0f}",
            "-" if attempt.http_status is None else str(attempt.http_status),
            f"{attempt.error_class}: {attempt.error_message}" if attempt.error_class else "",
            ", ".join(attempt.auth_steps),
            attempt.response_body[:200].decode("utf-8", "replace"),
        )
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)


@app.command("redeliver", epilog=_REDELIVER_EXAMPLES)
def redeliver(
    delivery_ids: Annotated[
        list[str] | None, typer.Argument(help="Delivery ids to send again.", show_default=False)
    ] = None,
    failed_since: Annotated[
        datetime | None,
        typer.Option(
            help="Every push that failed at or after this time (ISO 8601, UTC if no offset).",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Put pushes back in the queue (a running worker sends them at once)."""
    if not delivery_ids and failed_since is None:
        raise InputError("name delivery ids, or give --failed-since TIME")
    since = None
    if failed_since is not None:
        since = failed_since if failed_since.tzinfo else failed_since.replace(tzinfo=UTC)
    settings = load_settings(database_url=database_url)

    async def action(store: Store) -> int:
        return await store.redeliver(
            delivery_ids=delivery_ids or (), failed_since=since, now=datetime.now(UTC)
        )

    count = run_with_store(settings, action)
    typer.echo(f"requeued {count} push(es)")
    if delivery_ids and count < len(delivery_ids):
        raise InputError(
            f"{len(delivery_ids) - count} of the ids are unknown or still pending/in flight"
        )
