"""Serving an ASGI app with uvicorn and httptools on a bound socket.

The server keeps the request deadlines and connection limit of
:class:`~faxpush._serving.limits.ServerLimits`, and reports failed accepts (out of file
descriptors) at most once per 10 s instead of once per attempt. ``faxpush listen``,
``faxpush serve`` and the demo's receiver are all built by :func:`server_for`.
Importing this module imports uvicorn, which is only needed to serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from faxpush._loop import running_loop_name
from faxpush._serving.connections import ConnectionGuard, guarded_protocol
from faxpush._serving.limits import ServerLimits
from faxpush._serving.throttle import AcceptErrorHandler, ExceptionHandler
from faxpush.core.errors import ConfigurationError

_SWEEP_TICKS = 2  # uvicorn ticks every 0.1 s: late requests are found within 0.2 s

logger = logging.getLogger("faxpush.server")


class QuietServer(uvicorn.Server):
    """Stops on SIGINT/SIGTERM like uvicorn, but does not raise the signal again once it
    has shut down: for a receiver, Ctrl+C is the normal way to stop (exit status 0).
    With ``handle_signals=False`` it leaves signals alone: its owner stops it by setting
    :attr:`should_exit`.

    With a ``guard`` it also closes late requests on its tick, and reports failed accepts
    at most once per 10 s while it serves.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        guard: ConnectionGuard | None = None,
        *,
        handle_signals: bool = True,
    ) -> None:
        super().__init__(config)
        self.guard = guard
        self.handle_signals = handle_signals
        self._previous_handler: ExceptionHandler | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Install the accept error handler, then start as uvicorn does."""
        loop = asyncio.get_running_loop()
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(AcceptErrorHandler(logger, fallback=self._previous_handler))
        await super().startup(sockets)

    async def on_tick(self, counter: int) -> bool:
        """uvicorn's tick, plus the deadline check every :data:`_SWEEP_TICKS` ticks."""
        if self.guard is not None and counter % _SWEEP_TICKS == 0:
            loop = asyncio.get_running_loop()
            self.guard.expire(self.server_state.connections, loop.time())
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Shut down as uvicorn does, then close refused connections and put the previous
        exception handler back."""
        try:
            await super().shutdown(sockets)
        finally:
            if self.guard is not None:
                self.guard.close_all()
            asyncio.get_running_loop().set_exception_handler(self._previous_handler)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Route SIGINT and SIGTERM to a graceful shutdown while serving."""
        if not self.handle_signals:
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def bind(host: str, port: int, *, fix: str = "choose another --port") -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port); ``fix`` ends the
    message when it cannot be had."""
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
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; {fix}"
        ) from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def socket_url(sock: socket.socket) -> str:
    """The ``http://`` URL of a bound socket (an IPv6 host in brackets)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def wait_started(
    server: QuietServer,
    serving: asyncio.Task[None],
    *,
    name: str = "the HTTP server",
    within: float = 30.0,
) -> None:
    """Wait until ``server`` (being served by ``serving``) accepts connections; what stopped
    it, or a ConfigurationError naming ``name`` when it stopped or took over ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not server.started:
        if serving.done():
            serving.result()  # raises what stopped it
            raise ConfigurationError(f"{name} stopped while starting")
        if loop.time() > deadline:
            raise ConfigurationError(f"{name} did not start within {within} s")
        await asyncio.sleep(0.01)


def server_for(
    app: Callable[..., Awaitable[None]],
    limits: ServerLimits | None = None,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    lifespan: Literal["on", "off"] = "on",
    handle_signals: bool = True,
    log_config: dict[str, Any] | None = LOGGING_CONFIG,
    loop: Literal["auto", "asyncio", "uvloop"] | None = None,
) -> QuietServer:
    """A uvicorn server for the ASGI ``app``: httptools with ``limits`` (default:
    :class:`ServerLimits`), no access log, no WebSockets; HTTPS with ``tls_cert`` (a PEM
    chain, and the key unless ``tls_key`` holds it).

    ``log_config`` None leaves logging as the caller configured it (uvicorn's own
    configuration otherwise); ``lifespan`` and ``handle_signals`` as for uvicorn and
    :class:`QuietServer`. ``loop`` is uvicorn's, for :meth:`~uvicorn.Server.run` only: the
    commands await :meth:`~uvicorn.Server.serve` on the loop :mod:`faxpush._loop` chose.
    None: the kind of loop running now, else ``auto`` (uvloop where installed).
    """
    guard = ConnectionGuard(limits or ServerLimits())
    if loop is None:
        try:
            loop = running_loop_name()
        except RuntimeError:  # no loop yet
            loop = "auto"
    config = uvicorn.Config(
        app,
        http=guarded_protocol(guard),
        ws="none",
        loop=loop,
        lifespan=lifespan,
        log_config=log_config,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
    )
    return QuietServer(config, guard, handle_signals=handle_signals)


__all__ = ["QuietServer", "ServerLimits", "bind", "server_for", "socket_url", "wait_started"]
