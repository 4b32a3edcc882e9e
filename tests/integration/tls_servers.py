"""HTTPS receivers on 127.0.0.1 with certificates from a test CA (trustme).

``serve_tls`` runs an aiohttp.web server with the given server context. A receiver that
requires a client certificate is served two ways: by aiohttp (its asyncio transport resets
the connection when the handshake fails, before the client can read the alert) and by
``alerting_tls_server``, a blocking server that sends the TLS alert and then reads until
the client hangs up, the way receivers that send ``certificate_required`` behave.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
EXPIRED = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


@dataclass
class TlsReceiver:
    port: int
    bodies: list[bytes] = field(default_factory=list)
    peer_certs: list[object] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}{path}"


@dataclass
class Pki:
    """A trusted test CA, and helpers for the certificates and contexts the tests need."""

    ca: trustme.CA = field(default_factory=trustme.CA)
    other_ca: trustme.CA = field(default_factory=trustme.CA)  # trusted by nobody

    def ca_pem(self) -> str:
        return self.ca.cert_pem.bytes().decode("ascii")

    def ca_file(self, directory: Path) -> Path:
        path = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def server_context(
        self,
        *identities: str,
        not_after: datetime.datetime | None = None,
        ca: trustme.CA | None = None,
        client_cert_required: bool = False,
    ) -> ssl.SSLContext:
        issuer = ca or self.ca
        cert = issuer.issue_cert(*(identities or ("127.0.0.1", "localhost")), not_after=not_after)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        if client_cert_required:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context

    def client_pem(self, name: str = "faxpush-client@example.org") -> tuple[str, str]:
        """A client certificate chain and its key, both PEM."""
        cert = self.ca.issue_cert(name)
        chain = "".join(blob.bytes().decode("ascii") for blob in cert.cert_chain_pems)
        return chain, cert.private_key_pem.bytes().decode("ascii")


async def _ok(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@asynccontextmanager
async def serve_tls(context: ssl.SSLContext, handler: Handler = _ok) -> AsyncIterator[TlsReceiver]:
    """Serve ``handler`` over HTTPS on a free port of 127.0.0.1."""
    receiver = TlsReceiver(0)

    async def recording(request: web.Request) -> web.StreamResponse:
        receiver.bodies.append(await request.read())
        if request.transport is not None:
            receiver.peer_certs.append(request.transport.get_extra_info("peercert"))
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recording)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        receiver.port = runner.addresses[0][1]
        yield receiver
    finally:
        await runner.cleanup()


@contextmanager
def alerting_tls_server(context: ssl.SSLContext, *, connections: int = 4) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that fails every handshake it cannot complete with an
    alert the client gets to read; it accepts at most ``connections`` connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        conn.settimeout(2)
        tls = context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
            tls.recv(65536)  # the handshake succeeded: not the case under test
            tls.close()
        except (ssl.SSLError, OSError):
            with socket.socket(fileno=tls.detach()) as raw:
                _drain(raw)

    def accept() -> None:
        served = 0
        while served < connections and not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            served += 1
            handle(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _drain(conn: socket.socket) -> None:
    """Read until the client closes (at most 2 s), so the alert is not lost to a reset."""
    deadline = time.monotonic() + 2
    try:
        while time.monotonic() < deadline and conn.recv(65536):
            pass
    except OSError:
        pass
