"""Real HTTP servers on 127.0.0.1 for the receiver tests: uvicorn in a background thread."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn

from faxpush.receiver.app import ASGIApp

_T = TypeVar("_T")


def free_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on a free port of ``host`` (a loopback address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class Served:
    """A running server: its base URL and the event loop the app runs on."""

    host: str
    port: int
    loop: asyncio.AbstractEventLoop

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def run(self, work: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        """Run ``work`` on the server's loop (where the app's inbox lives) and wait."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)


@contextmanager
def serving(app: ASGIApp, *, http: str = "httptools") -> Iterator[Served]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 until the block ends."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http=http, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            failure.append(exc)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())

    thread = threading.Thread(target=run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if failure or not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=5)
            loop.close()
            sock.close()
            raise RuntimeError(f"the test server did not start: {failure}")
        time.sleep(0.005)
    try:
        yield Served("127.0.0.1", port, loop)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        loop.close()
        sock.close()


def basic(user: str, password: str) -> tuple[str, str]:
    """An Authorization header for HTTP Basic."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return ("authorization", f"Basic {token}")
