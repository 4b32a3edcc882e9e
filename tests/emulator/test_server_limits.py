"""``faxpush serve`` under slow and too many clients, in a subprocess; the demo's receiver.

The clients are raw sockets on 127.0.0.1, so a test controls exactly which bytes of a
request arrive and when. Before the API was served with read deadlines, each of these
connections stayed open for good.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from faxpush._serving.connections import GuardedHttpProtocol
from faxpush._serving.limits import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, server_limits
from faxpush.core.settings import Settings
from faxpush.emulator.demo import RECEIVER_LIMITS, receiver_server

from .harness import basic_auth
from .processes import ServeProcess, serve_env, start_serve

QUICK = {"FAXPUSH_SERVE_HEADER_TIMEOUT": "1", "FAXPUSH_SERVE_BODY_TIMEOUT": "1"}
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@asynccontextmanager
async def serving(tmp_path: Path, **env: str) -> AsyncIterator[ServeProcess]:
    server = await start_serve(
        tmp_path / "faxpush.db", env=serve_env(**env), stderr=tmp_path / "stderr.txt"
    )
    try:
        yield server
    finally:
        await server.terminate()


@asynccontextmanager
async def connected(server: ServeProcess) -> AsyncIterator[Streams]:
    port = urlsplit(server.url).port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def until_closed(reader: asyncio.StreamReader, within: float) -> tuple[bytes, float | None]:
    """Everything the server sends, and after how many seconds it closed (None: it did
    not close within ``within`` seconds)."""
    started = time.monotonic()
    received = b""
    while (left := within - (time.monotonic() - started)) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except TimeoutError:
            break
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    return received, None


async def get_docs(server: ServeProcess) -> tuple[int, dict[str, str], str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(server.url + "/openapi.json") as response,
    ):
        return response.status, dict(response.headers), await response.text()


def job_head(server: ServeProcess, length: int) -> bytes:
    assert server.created is not None
    customer, login, password = server.created
    return (
        f"POST /rest/v1/{customer}/fax HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {basic_auth(login, password)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def test_a_job_body_that_never_arrives_is_answered_408_within_the_body_timeout(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, **QUICK) as server:
        async with connected(server) as (reader, writer):
            writer.write(job_head(server, 100) + b'{"recipients": [')
            answer, closed_after = await until_closed(reader, within=6)
        status, _, _ = await get_docs(server)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert closed_after is not None, "the connection was left open"
    assert closed_after < 3
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in answer.lower()
    assert status == 200
    assert "Traceback" not in stderr  # the app sees a disconnect, not an error
    assert "unexpected error" not in stderr


async def test_half_a_header_line_and_a_silent_connection_are_closed_within_the_header_timeout(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, **QUICK) as server:
        async with connected(server) as (half, half_writer), connected(server) as (silent, _):
            half_writer.write(b"POST /rest/v1/99999TE/fax HT")
            (answer, half_closed), (_, silent_closed) = await asyncio.gather(
                until_closed(half, within=6), until_closed(silent, within=6)
            )
        status, _, _ = await get_docs(server)
    assert half_closed is not None, "a half-sent request line was left open"
    assert half_closed < 3
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert silent_closed is not None, "a connection that sent nothing was left open"
    assert silent_closed < 3
    assert status == 200


async def test_over_the_connection_limit_requests_are_refused_503_then_served_again(
    tmp_path: Path,
) -> None:
    limits = {"FAXPUSH_SERVE_MAX_CONNECTIONS": "20", "FAXPUSH_SERVE_HEADER_TIMEOUT": "2"}
    async with serving(tmp_path, **limits) as server:
        assert "at most 20 connections" in "\n".join(server.lines)  # the banner says so
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(connected(server)) for _ in range(40)]
            for _, writer in clients:
                writer.write(b"GET /openapi.json HTTP/1.1\r\nHo")
            await asyncio.sleep(0.3)  # let the server take them all in
            refused_status, refused_headers, refused_body = await get_docs(server)
            closed = await asyncio.gather(*(until_closed(r, within=5) for r, _ in clients))
        deadline = time.monotonic() + 5
        while (status := (await get_docs(server))[0]) != 200:
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.2)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert refused_status == 503, refused_body[:200]
    assert refused_headers["Connection"] == "close"
    assert refused_headers["Retry-After"] == "10"
    assert '"too_many_connections"' in refused_body
    assert all(seconds is not None for _, seconds in closed), closed
    assert 1 <= stderr.count("connection limit") <= 2, stderr  # at most once per 10 s


def test_serve_settings_default_to_the_listen_deadlines_but_a_longer_body() -> None:
    limits = server_limits(Settings())
    assert limits.header_timeout == DEFAULT_HEADER_TIMEOUT
    assert limits.body_timeout == 2 * DEFAULT_BODY_TIMEOUT  # job requests reach 20 MB
    custom = server_limits(Settings(serve_max_connections=7, serve_body_timeout=5))
    assert (custom.max_connections, custom.body_timeout) == (7, 5)


def test_the_demo_receiver_is_served_with_deadlines_and_a_connection_limit() -> None:
    server = receiver_server(io.StringIO(), asyncio.Event())
    assert server.guard is not None
    assert server.guard.limits == RECEIVER_LIMITS
    protocol = server.config.http
    assert isinstance(protocol, type)
    assert issubclass(protocol, GuardedHttpProtocol)
