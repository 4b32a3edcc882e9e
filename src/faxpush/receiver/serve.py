"""Serving a receiver app with uvicorn (httptools when installed) on a bound socket.

Importing this module imports uvicorn, which is only needed to serve.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import socket
from collections.abc import Iterator

import uvicorn

from faxpush.core.errors import ConfigurationError
from faxpush.receiver.app import ASGIApp


class QuietServer(uvicorn.Server):
    """Stops on SIGINT/SIGTERM like uvicorn, but does not raise the signal again once it
    has shut down: for a receiver, Ctrl+C is the normal way to stop (exit status 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Route SIGINT and SIGTERM to a graceful shutdown while serving."""
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and
    # without it every keep-alive answer waits for a delayed ACK (about 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port"
        ) from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def server_for(app: ASGIApp) -> QuietServer:
    """A uvicorn server for ``app``: httptools if installed, lifespan on, no access log."""
    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    config = uvicorn.Config(
        app,
        http=http,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return QuietServer(config)


__all__ = ["QuietServer", "bind", "server_for"]
