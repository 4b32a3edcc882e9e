"""``faxpush check-endpoint``: a conformance check of a customer's receiving endpoint."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Sequence
from ipaddress import ip_network
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from faxpush.cli._options import AuthOption, ClientAuthChoice, PrincipalOption, credentials_option
from faxpush.cli._settings import load_settings
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.urls import check_http_url
from faxpush.delivery.checker import EVERYWHERE, CheckResult, EndpointChecker, all_passed
from faxpush.delivery.guard import IPNetwork
from faxpush.delivery.tls import CA_BUNDLE_ENV, TlsMaterialError, read_pem

EPILOG = """\
[bold]Examples[/bold]

  faxpush check-endpoint https://hooks.example.org/fax/status --auth HTTP_BASIC \\
      --principal fax --credentials 's3cret'

  faxpush check-endpoint http://127.0.0.1:8080/ --auth OAUTH2 --principal client-1 \\
      --credentials 's3cret' --token-url http://127.0.0.1:8080/oauth2/token

  faxpush check-endpoint https://hooks.example.org/fax/status --ca-file hooks-ca.pem \\
      --client-cert faxpush-client.pem --client-key faxpush-client.key
"""


def _networks(values: Sequence[str]) -> tuple[IPNetwork, ...]:
    if not values:
        return EVERYWHERE
    try:
        return tuple(ip_network(v.strip(), strict=False) for v in values)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--allow-network") from None


def render_table(results: Sequence[CheckResult], *, width: int = 120) -> str:
    """The result table as plain text."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("check", "expected", "answer", "time", "result", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for r in results:
        verdict = "skipped" if r.passed is None else ("pass" if r.passed else "FAIL")
        answer = "-" if r.status is None else str(r.status)
        elapsed = "-" if r.passed is None else f"{r.duration_ms:.0f} ms"
        # Text, not markup: details quote the endpoint's answers, brackets and all.
        table.add_row(
            *(Text(cell) for cell in (r.name, r.expected, answer, elapsed, verdict, r.detail))
        )
    console = Console(width=width, no_color=True, highlight=False, record=True, file=io.StringIO())
    console.print(table)
    failed = sum(r.passed is False for r in results)
    skipped = sum(r.passed is None for r in results)
    passed = len(results) - failed - skipped
    summary = f"{len(results)} checks: {passed} passed, {failed} failed"
    summary += f", {skipped} skipped" if skipped else ""
    return console.export_text() + summary + "\n"


def check_endpoint(
    url: Annotated[str, typer.Argument(help="The endpoint's push URL.")],
    auth: AuthOption = AuthMethod.NONE,
    principal: PrincipalOption = None,
    credentials: Annotated[str | None, credentials_option("FAXPUSH_CHECK_CREDENTIALS")] = None,
    token_url: Annotated[str | None, typer.Option(help="OAUTH2: the token endpoint.")] = None,
    client_auth: Annotated[
        ClientAuthChoice,
        typer.Option(help="OAUTH2: how the client authenticates at the token endpoint."),
    ] = ClientAuthChoice.BASIC,
    timeout: Annotated[
        float, typer.Option(help="Seconds each answer may take.", min=0.1, max=120)
    ] = 10.0,
    allow_network: Annotated[
        list[str] | None,
        typer.Option(help="Only connect to these networks (CIDR; repeatable). Default: any."),
    ] = None,
    ca_file: Annotated[
        str | None,
        typer.Option(
            "--ca-file",
            help="PEM file of CA certificates trusted besides the system's "
            f"\\[setting ca_bundle, env {CA_BUNDLE_ENV}].",
        ),
    ] = None,
    client_cert: Annotated[
        str | None,
        typer.Option(help="PEM client certificate for mutual TLS (with --client-key)."),
    ] = None,
    client_key: Annotated[
        str | None, typer.Option(help="PEM private key of --client-cert, unencrypted.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Check a push endpoint: golden pushes in XML and JSON must be accepted (2xx), a
    duplicate answered the same, an oversized body, a malformed body and wrong credentials
    refused (4xx). Exit status 0 only when every check passed."""
    check_http_url(url, role="endpoint URL")
    settings = load_settings(ca_bundle=ca_file)
    if auth is not AuthMethod.NONE and (not principal or not credentials):
        raise typer.BadParameter(f"{auth.value} needs --principal and --credentials")
    if auth is AuthMethod.OAUTH2 and not token_url:
        raise typer.BadParameter("OAUTH2 needs --token-url", param_hint="--token-url")
    if (client_cert is None) != (client_key is None):
        raise typer.BadParameter("give --client-cert and --client-key together")
    try:
        cert_pem = None if client_cert is None else read_pem(client_cert, "client certificate")
        key_pem = None if client_key is None else Secret(read_pem(client_key, "client key"))
    except TlsMaterialError as exc:
        raise typer.BadParameter(str(exc)) from None
    checker = EndpointChecker(
        url,
        auth_method=auth,
        principal=principal,
        credentials=None if credentials is None else Secret(credentials),
        token_url=token_url,
        client_auth=client_auth.style,
        timeout=timeout,
        allowed_networks=_networks(allow_network or ()),
        ca_file=settings.ca_bundle,
        client_cert=cert_pem,
        client_key=key_pem,
    )
    results = asyncio.run(checker.run())
    if as_json:
        document = [
            {
                "check": r.name,
                "expected": r.expected,
                "status": r.status,
                "ms": round(r.duration_ms, 1),
                "passed": r.passed,
                "detail": r.detail,
            }
            for r in results
        ]
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(results))
    sys.stdout.flush()
    if not all_passed(results):
        raise typer.Exit(1)


__all__ = ["EPILOG", "check_endpoint", "render_table"]


if __name__ == "__main__":
    from faxpush.cli._errors import run

    _app = typer.Typer(add_completion=False)
    _app.command(epilog=EPILOG)(check_endpoint)
    run(_app)
