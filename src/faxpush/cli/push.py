"""``faxpush push send``: enqueue one push and deliver it now, printing every attempt."""

from __future__ import annotations

import asyncio
import functools
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer

from faxpush.cli._io import read_input, source_name
from faxpush.cli._json import JsonOption, print_json
from faxpush.cli._options import ClientAuthChoice, PushLayout, command_group
from faxpush.cli._runtime import CaBundleOption, DatabaseOption, load_settings, opened_store
from faxpush.core.errors import DeliveryError, InputError, ReportFormatError
from faxpush.core.formats import (
    DEFAULT_MAX_REPORT_BYTES,
    parse_report,
    render_report,
)
from faxpush.core.models import AuthMethod
from faxpush.core.outcome import Verdict
from faxpush.core.secrets import Secret
from faxpush.core.settings import Settings
from faxpush.core.targets import PushTarget
from faxpush.core.urls import check_http_url
from faxpush.delivery.hooks import AttemptDetails, AttemptHook
from faxpush.delivery.worker import delivery_engine
from faxpush.storage.base import AttemptRecord, NewPush, PushRecord, PushState, Store
from faxpush.storage.json_views import push_detail_view, push_location

app = command_group(
    "Send a single push right now.",
    epilog="[bold]Examples[/bold]\n\n"
    "  faxpush push send https://hooks.example.org/fax report.xml\n",
)


EXAMPLES = """\
[bold]Examples[/bold]

  faxpush push send https://hooks.example.org/fax report.xml

  faxpush push send --format json --auth HTTP_BASIC --principal hook --credentials s3cret \\
      https://hooks.example.org/fax report.json

  faxpush push send --auth OAUTH2 --principal client-id --credentials client-secret \\
      --token-url https://auth.example.org/token https://hooks.example.org/fax report.xml

  faxpush push send --json https://hooks.example.org/fax report.xml > push.json

Exit codes: 0 delivered, 1 failed, 2 bad arguments or input.
"""


@app.command("send", epilog=EXAMPLES)
def send(
    url: Annotated[str, typer.Argument(help="The receiver's push URL (http or https).")],
    report: Annotated[
        str, typer.Argument(help="Report file (XML, JSON or REST JSON), - for stdin.")
    ],
    body_format: Annotated[
        PushLayout, typer.Option("--format", "-f", help="Push body layout.")
    ] = PushLayout.XML,
    auth: Annotated[str, typer.Option(help="NONE, HTTP_BASIC, HTTP_DIGEST or OAUTH2.")] = "NONE",
    principal: Annotated[str | None, typer.Option(help="User name or OAuth2 client id.")] = None,
    credentials: Annotated[
        str | None, typer.Option(help="Password or OAuth2 client secret.", show_default=False)
    ] = None,
    token_url: Annotated[str | None, typer.Option(help="OAuth2 token endpoint.")] = None,
    client_auth: Annotated[
        ClientAuthChoice,
        typer.Option(help="How the OAuth2 client authenticates at the token URL."),
    ] = ClientAuthChoice.BASIC,
    attempts: Annotated[int, typer.Option(min=1, max=20, help="Attempts at most.")] = 3,
    interval: Annotated[
        float, typer.Option(min=0, max=600, help="Seconds between attempts.")
    ] = 2.0,
    database_url: DatabaseOption = None,
    ca_bundle: CaBundleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enqueue one push in the outbox and deliver it now; waits for its final state.

    With --json the attempts are reported on stderr as they happen, and stdout gets the
    final push with every attempt, as 'faxpush pushes show --json' prints it.
    """
    target = _target(url, auth, principal, credentials, token_url, client_auth)
    data = read_input(report, limit=DEFAULT_MAX_REPORT_BYTES)
    try:
        parsed = parse_report(data)
    except ReportFormatError as exc:
        raise exc.with_source(source_name(report)) from None
    rendered, content_type = render_report(parsed, body_format.report_format)
    settings = load_settings(
        database_url=database_url,
        retry_delays=(0.0, *([interval] * (attempts - 1))),
        retry_jitter=0.0,
        ca_bundle=ca_bundle,
    )
    push = NewPush(
        delivery_id=str(uuid.uuid4()),
        job_id=parsed.jobId,
        target=target,
        content_type=content_type,
        body=rendered,
        max_attempts=attempts,
    )
    hook = functools.partial(print_attempt, err=as_json)
    final, attempt_records = asyncio.run(_deliver(settings, push, hook))
    if as_json:
        print_json(push_detail_view(final, attempt_records, push_location(final.delivery_id)))
    else:
        typer.echo(
            f"push {final.delivery_id}: {final.state.value} after {final.attempts} attempt(s)"
        )
    if final.state is not PushState.DELIVERED:
        if final.last_error:
            typer.echo(f"last error: {final.last_error}", err=True)
        raise typer.Exit(1)


def _target(
    url: str,
    auth: str,
    principal: str | None,
    credentials: str | None,
    token_url: str | None,
    client_auth: ClientAuthChoice,
) -> PushTarget:
    try:
        method = AuthMethod(auth)
    except ValueError:
        raise InputError(
            f"--auth {auth!r} is not one of NONE, HTTP_BASIC, HTTP_DIGEST, OAUTH2"
        ) from None
    check_http_url(url)
    if method is not AuthMethod.NONE and (not principal or credentials is None):
        raise InputError(f"--auth {method.value} needs --principal and --credentials")
    if method is AuthMethod.OAUTH2:
        if not token_url:
            raise InputError("--auth OAUTH2 needs --token-url (the client-credentials endpoint)")
        check_http_url(token_url, role="token URL")
    return PushTarget(
        url=url,
        auth_method=method,
        principal=principal,
        credentials=Secret(credentials) if credentials is not None else None,
        token_url=token_url,
        client_auth=client_auth.style,
    )


def print_attempt(details: AttemptDetails, *, err: bool = False) -> None:
    """One line per attempt (on stderr with ``err``): number, answer, duration, auth steps,
    what happens next."""
    answer = (
        f"HTTP {details.http_status}"
        if details.http_status is not None and details.error_class is None
        else f"{details.error_class}: {details.error_message}"
    )
    steps = f" [auth: {', '.join(details.auth_steps)}]" if details.auth_steps else ""
    then = {
        Verdict.DELIVERED: "delivered",
        Verdict.FAILED: f"failed ({details.reason})",
        Verdict.RETRY: "will retry",
    }[details.verdict]
    color = {Verdict.DELIVERED: "green", Verdict.FAILED: "red", Verdict.RETRY: "yellow"}
    typer.secho(
        f"attempt {details.attempt}: {answer} in {details.duration_ms:.0f} ms{steps} -> {then}",
        fg=color[details.verdict],
        err=err,
    )


async def _deliver(
    settings: Settings, push: NewPush, hook: AttemptHook
) -> tuple[PushRecord, list[AttemptRecord]]:
    async with opened_store(settings) as store:
        await store.enqueue(push, now=datetime.now(UTC))
        stop = asyncio.Event()
        async with delivery_engine(store, settings, hooks=(hook,)) as engine:
            runner = asyncio.create_task(engine.dispatcher.run(stop))
            attempts = push.max_attempts or 1
            bound = attempts * (max(settings.retry_delays) + settings.attempt_deadline) + 10
            try:
                async with asyncio.timeout(bound):
                    final = await _wait_final(store, push.delivery_id, runner)
                return final, await store.list_attempts(push.delivery_id)
            except TimeoutError:
                raise DeliveryError(
                    f"push {push.delivery_id} was not final after {bound:.0f} s; "
                    "see `faxpush pushes show` for its attempts"
                ) from None
            finally:
                stop.set()
                await runner


async def _wait_final(store: Store, delivery_id: str, runner: asyncio.Task[None]) -> PushRecord:
    while True:
        record = await store.get_push(delivery_id)
        if record is not None and record.state not in (PushState.PENDING, PushState.IN_FLIGHT):
            return record
        if runner.done():
            runner.result()  # re-raise what stopped the dispatcher
            raise InputError("the dispatcher stopped before the push was final")
        await asyncio.sleep(0.05)
