"""``faxpush listen``: a local push receiver that prints every push as it arrives."""

from __future__ import annotations

import logging
import socket
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from prometheus_client import CollectorRegistry

from faxpush._observe.health import Readiness, with_health
from faxpush._observe.logs import writes_json
from faxpush._observe.metrics import Metrics
from faxpush._serving.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    ServerLimits,
    default_max_connections,
    describe_limits,
    open_file_limit,
)
from faxpush.cli._event_loop import EventLoopOption, run_on_loop
from faxpush.cli._options import AuthOption, LogFormatOption, PrincipalOption, credentials_option
from faxpush.cli._receipts import ReceiptPrinter
from faxpush.cli._runtime import configure_logging, load_settings
from faxpush.core.errors import StorageError
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.settings import LogFormat
from faxpush.receiver.app import ASGIApp, ReceiverApp
from faxpush.receiver.issuer import DEFAULT_AUDIENCE, DevIssuer
from faxpush.receiver.openapi import openapi_bytes
from faxpush.receiver.service import DEFAULT_INBOX_URL, PushReceiver, ReceiptHook
from faxpush.receiver.verify import (
    BasicVerifier,
    BearerVerifier,
    DigestUser,
    DigestVerifier,
    IntrospectionValidator,
    JwtValidator,
    NoAuthVerifier,
    RemoteJwks,
    Verifier,
)
from faxpush.receiver.verify.digest import DEFAULT_ALGORITHMS

if TYPE_CHECKING:
    from faxpush._serving.server import QuietServer

ISSUER_PREFIX = "/oauth2"
SERVER_BODY_GRACE = 1.0
"""The server's own body deadline trails the push app's by this much, so a late push is
answered by the app (408, and a printed receipt); the server's catches everything else."""

EPILOG = """\
[bold]Examples[/bold]

  faxpush listen --port 8080

  faxpush listen --ui --inbox memory://

  faxpush listen --port 8443 --tls-cert cert.pem --tls-key key.pem

  faxpush listen --auth HTTP_DIGEST --principal alice --credentials 's3cret'

  faxpush listen --auth OAUTH2 --oauth2-issuer --principal client-1 --credentials 's3cret'

  faxpush listen --auth OAUTH2 --jwks-url https://idp.example.org/jwks \\
      --issuer https://idp.example.org --audience fax-hooks
"""


def _needs_credentials(method: AuthMethod, principal: str | None, credentials: str | None) -> None:
    if not principal or not credentials:
        raise typer.BadParameter(
            f"{method.value} needs --principal and --credentials", param_hint="--auth"
        )


def build_verifier(
    method: AuthMethod,
    *,
    principal: str | None,
    credentials: str | None,
    issuer: DevIssuer | None,
    jwks_url: str | None,
    token_issuer: str | None,
    audience: str | None,
    introspection_url: str | None,
    digest_algorithms: str,
) -> Verifier:
    """The verifier the listen options describe."""
    if method is AuthMethod.NONE:
        return NoAuthVerifier()
    if method is AuthMethod.HTTP_BASIC:
        _needs_credentials(method, principal, credentials)
        assert principal is not None
        assert credentials is not None
        return BasicVerifier({principal: Secret(credentials)})
    if method is AuthMethod.HTTP_DIGEST:
        _needs_credentials(method, principal, credentials)
        assert principal is not None
        assert credentials is not None
        algorithms = [a.strip() for a in digest_algorithms.split(",") if a.strip()]
        user = DigestUser.from_password(principal, Secret(credentials), algorithms=algorithms)
        return DigestVerifier([user], algorithms=algorithms)
    if issuer is not None:
        validator = JwtValidator(
            issuer.key_source(),
            issuer=issuer.issuer,
            audience=issuer.audience,
            algorithms=["ES256"],
        )
        return BearerVerifier(validator)
    if introspection_url is not None:
        _needs_credentials(method, principal, credentials)
        assert principal is not None
        assert credentials is not None
        return BearerVerifier(
            IntrospectionValidator(
                introspection_url,
                client_id=principal,
                client_secret=Secret(credentials),
                issuer=token_issuer,
                audience=audience,
            )
        )
    if jwks_url is None or token_issuer is None or audience is None:
        raise typer.BadParameter(
            "OAUTH2 needs --oauth2-issuer, or --jwks-url with --issuer and --audience, "
            "or --introspection-url",
            param_hint="--auth",
        )
    return BearerVerifier(
        JwtValidator(RemoteJwks(jwks_url), issuer=token_issuer, audience=audience)
    )


def _timeout_option(envvar: str, help_text: str) -> Any:
    return typer.Option(help=help_text, envvar=envvar, min=0.1, max=3600)


def _pem_file_option(envvar: str, help_text: str) -> Any:
    return typer.Option(help=help_text, envvar=envvar, dir_okay=False)


def listen(
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.")] = 8080,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    path: Annotated[
        str | None,
        typer.Option(help="Accept pushes only at this path (default: any path)."),
    ] = None,
    auth: AuthOption = AuthMethod.NONE,
    principal: PrincipalOption = None,
    credentials: Annotated[str | None, credentials_option("FAXPUSH_LISTEN_CREDENTIALS")] = None,
    oauth2_issuer: Annotated[
        bool,
        typer.Option(
            "--oauth2-issuer",
            help="Also serve a client-credentials token endpoint and a JWKS under /oauth2.",
        ),
    ] = False,
    jwks_url: Annotated[str | None, typer.Option(help="OAUTH2: the issuer's JWKS URL.")] = None,
    token_issuer: Annotated[
        str | None, typer.Option("--issuer", help="OAUTH2: the expected token issuer.")
    ] = None,
    audience: Annotated[str | None, typer.Option(help="OAUTH2: the expected audience.")] = None,
    introspection_url: Annotated[
        str | None, typer.Option(help="OAUTH2: an RFC 7662 endpoint for opaque tokens.")
    ] = None,
    digest_algorithms: Annotated[
        str, typer.Option(help="HTTP_DIGEST: algorithms to offer, in order.")
    ] = ",".join(DEFAULT_ALGORITHMS),
    inbox: Annotated[
        str,
        typer.Option(help="Where pushes are kept: sqlite:///file.db, postgresql://… or memory://."),
    ] = DEFAULT_INBOX_URL,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per request.")
    ] = False,
    header_timeout: Annotated[
        float,
        _timeout_option(
            "FAXPUSH_LISTEN_HEADER_TIMEOUT",
            "Seconds a request's head may take to arrive (then 408 and closed).",
        ),
    ] = DEFAULT_HEADER_TIMEOUT,
    body_timeout: Annotated[
        float,
        _timeout_option(
            "FAXPUSH_LISTEN_BODY_TIMEOUT",
            "Seconds a request's body may take to arrive after its head (then 408).",
        ),
    ] = DEFAULT_BODY_TIMEOUT,
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Open connections at most; more are answered 503 "
            "(default: 1000, less under a low open-file limit).",
            envvar="FAXPUSH_LISTEN_MAX_CONNECTIONS",
            min=1,
            show_default=False,
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        _pem_file_option("FAXPUSH_LISTEN_TLS_CERT", "Serve HTTPS with this PEM certificate chain."),
    ] = None,
    tls_key: Annotated[
        Path | None,
        _pem_file_option(
            "FAXPUSH_LISTEN_TLS_KEY", "The certificate's PEM private key (if not in --tls-cert)."
        ),
    ] = None,
    ui: Annotated[
        bool,
        typer.Option(
            "--ui",
            help="Serve a page at GET / listing the pushes as they arrive (live, newest first).",
        ),
    ] = False,
    ui_keep: Annotated[
        int,
        typer.Option(
            help="--ui: how many of the last pushes the page keeps (in memory).", min=1, max=10_000
        ),
    ] = 100,
    log_format: LogFormatOption = None,
    event_loop: EventLoopOption = None,
) -> None:
    """Receive status pushes locally and print each one (job id, recipients, auth result).

    Pushes are POSTed to any path (or only to --path), stored in the inbox and answered 200;
    a duplicate is answered 200 again and printed as such. The OpenAPI description of the
    push is served at /openapi.json; GET /healthz, /readyz (the inbox answers) and /metrics
    serve health checks and Prometheus (FAXPUSH_METRICS=false turns metrics off). Requests
    that arrive too slowly are answered 408 and closed; connections over --max-connections
    are answered 503. With --ui, GET / serves a page listing the last pushes (time, job id,
    layout, auth verdict, recipients, raw headers and body), updated live. Stop with Ctrl+C.
    """
    if oauth2_issuer and auth is not AuthMethod.OAUTH2:
        raise typer.BadParameter("--oauth2-issuer goes with --auth OAUTH2", param_hint="--auth")
    if path is not None and not path.startswith("/"):
        raise typer.BadParameter("must start with '/'", param_hint="--path")
    _check_tls(tls_cert, tls_key)
    settings = load_settings(log_format=log_format, event_loop=event_loop)
    # In text, listen's own lines are its banner and receipts: its log adds only warnings.
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.NOTSET)
    quiet = settings.log_format is LogFormat.TEXT and level < logging.WARNING
    configure_logging("WARNING" if quiet else settings.log_level, settings.log_format)
    from faxpush._serving.server import bind, server_for  # imports uvicorn: only to serve

    file_limit = open_file_limit()
    limits = ServerLimits(
        header_timeout=header_timeout,
        body_timeout=body_timeout + SERVER_BODY_GRACE,
        max_connections=max_connections or default_max_connections(file_limit),
    )
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    base = f"{'https' if tls_cert else 'http'}://{shown_host}:{bound_port}"
    issuer = None
    if oauth2_issuer:
        _needs_credentials(auth, principal, credentials)
        assert principal is not None
        assert credentials is not None
        issuer = DevIssuer(
            {principal: Secret(credentials)},
            issuer=base + ISSUER_PREFIX,
            audience=audience or DEFAULT_AUDIENCE,
        )
    verifier = build_verifier(
        auth,
        principal=principal,
        credentials=credentials,
        issuer=issuer,
        jwks_url=jwks_url,
        token_issuer=token_issuer,
        audience=audience,
        introspection_url=introspection_url,
        digest_algorithms=digest_algorithms,
    )
    printer = ReceiptPrinter(sys.stdout, as_json=as_json)
    metrics = Metrics(CollectorRegistry()) if settings.metrics else None
    hooks: list[ReceiptHook] = [printer]
    if metrics is not None:
        hooks.append(metrics.observe_receipt)
    ring = None
    if ui:
        from faxpush.receiver.live import LiveRing  # jinja2 templates: only with --ui

        ring = LiveRing(ui_keep)
        hooks.append(ring.observe)
    receiver = PushReceiver(verifier=verifier, inbox=inbox, on_receipt=hooks)
    mounts: dict[str, ASGIApp] = {} if issuer is None else {ISSUER_PREFIX: issuer}
    document = openapi_bytes(
        server_url=base,
        path=path or "/",
        token_url=None if issuer is None else issuer.token_url,
    )
    app = ReceiverApp(
        receiver, path=path, mounts=mounts, openapi=document, body_timeout=body_timeout
    )
    shown_limits = ServerLimits(header_timeout, body_timeout, limits.max_connections)
    banner = [
        f"faxpush listen: receiving pushes on {base}{path or '/'}"
        + ("" if path else " (any path)"),
        f"  auth:    {auth.value}" + (f" (principal {principal})" if principal else ""),
        f"  inbox:   {inbox}",
        f"  OpenAPI: {base}/openapi.json",
        f"  health:  {base}/healthz, {base}/readyz" + (f", {base}/metrics" if metrics else ""),
        f"  limits:  {describe_limits(shown_limits, file_limit)}",
    ]
    if issuer is not None:
        banner.append(f"  OAuth2 token URL: {issuer.token_url}   JWKS: {issuer.jwks_url}")
    front: ASGIApp = app
    if ring is not None:
        from faxpush.receiver.live import LiveApp

        front = LiveApp(app, ring, push_url=f"{base}{path or '/'}", unrecorded=mounts)
        banner.append(f"  live view: {base}/ (the last {ui_keep} pushes)")
    served = with_health(front, _inbox_readiness(receiver), metrics)
    server = server_for(served, limits, tls_cert=tls_cert, tls_key=tls_key, log_config=None)
    try:
        run_on_loop(lambda: _serve(app, server, sock, banner), settings.event_loop)
    except KeyboardInterrupt:
        pass  # Ctrl+C before the server was up: nothing to stop yet
    finally:
        sock.close()


def _inbox_readiness(receiver: PushReceiver) -> Readiness:
    """Ready when the inbox answers a count (not before the receiver has started)."""

    async def ready() -> str | None:
        try:
            await receiver.inbox.count()
        except StorageError as exc:
            return f"the inbox does not answer: {exc}"
        return None

    return ready


def _check_tls(cert: Path | None, key: Path | None) -> None:
    """Load the certificate and key once before serving, so a bad file is a usage error
    naming the option rather than a failure after the banner."""
    if cert is None:
        if key is not None:
            raise typer.BadParameter("--tls-key goes with --tls-cert", param_hint="--tls-key")
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        what = "certificate and key" if key else "certificate (with its key)"
        raise typer.BadParameter(
            f"cannot load the TLS {what}: {exc}; give a PEM certificate chain and its "
            "private key (--tls-key, unless the key is in the same file)",
            param_hint="--tls-cert",
        ) from None


async def _serve(
    app: ReceiverApp, server: QuietServer, sock: socket.socket, banner: list[str]
) -> None:
    from faxpush.heap import settle_heap

    await app.startup()  # a bad inbox URL fails here, as one line, before serving
    settle_heap()  # a long-running process: keep the start-up heap out of collections
    try:
        stored = await app.receiver.inbox.count()
        banner[2] += f" ({stored} push{'' if stored == 1 else 'es'} stored)"
        _tell("\n".join(banner) + "\nPress Ctrl+C to stop.")
        await server.serve(sockets=[sock])
    finally:
        await app.shutdown()
        _tell("faxpush listen: stopped")


def _tell(text: str) -> None:
    """The banner and the goodbye: plain on stderr, or a log record when the log is JSON."""
    if writes_json():
        logging.getLogger("faxpush.listen").info(text)
        return
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


__all__ = ["EPILOG", "ReceiptPrinter", "build_verifier", "listen"]


if __name__ == "__main__":
    from faxpush.cli._errors import run

    _app = typer.Typer(add_completion=False)
    _app.command(epilog=EPILOG)(listen)
    run(_app)
