"""The test fault proxy itself: each mode breaks the connection where it says it does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.faults import FaultProxy, Mode

from .servers import LocalServer, serve

REQUEST = b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping"
ANSWER_BODY = b"stored, thank you"


async def _stored(_request: web.Request) -> web.Response:
    return web.Response(body=ANSWER_BODY)


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    async with serve(_stored) as running:
        yield running


async def exchange(port: int, request: bytes = REQUEST, wait: float = 2) -> tuple[bytes, str]:
    """Send ``request``, read until the connection ends: (bytes received, how it ended)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    ending = "eof"
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(wait):
            while chunk := await reader.read(65536):
                received += chunk
                if received.endswith(ANSWER_BODY):
                    ending = "answered"
                    break
    except ConnectionResetError:
        ending = "reset"
    except TimeoutError:
        ending = "silent"
    finally:
        writer.close()
    return received, ending


async def test_pass_through_then_each_fault(server: LocalServer) -> None:
    async with FaultProxy(server.port) as proxy:
        received, ending = await exchange(proxy.port)
        assert ending == "answered"
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")

        proxy.mode = Mode.RESET_BEFORE_ANSWER
        assert await exchange(proxy.port) == (b"", "reset")

        proxy.mode = Mode.RESET_AFTER_STATUS_LINE
        assert await exchange(proxy.port) == (b"HTTP/1.1 200 OK\r\n", "reset")

        proxy.mode = Mode.RESET_MID_BODY
        received, ending = await exchange(proxy.port)
        assert ending == "reset"
        head, _, body = received.partition(b"\r\n\r\n")
        assert b"Content-Length: 17" in head
        assert 0 < len(body) < len(ANSWER_BODY)
        assert ANSWER_BODY.startswith(body)

        proxy.mode = Mode.STALL
        assert await exchange(proxy.port, wait=0.3) == (b"", "silent")
    # The server saw every request but the stalled one.
    assert len(server.requests) == 4
    assert proxy.resets == 3


async def test_a_switch_applies_to_the_next_request_on_a_kept_alive_connection(
    server: LocalServer,
) -> None:
    async with FaultProxy(server.port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(REQUEST)
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(ANSWER_BODY), 2)
        assert first.startswith(b"HTTP/1.1 200")
        proxy.mode = Mode.RESET_BEFORE_ANSWER
        writer.write(REQUEST)
        await writer.drain()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(65536), 2)
        writer.close()


async def test_cut_resets_open_connections_and_refuses_new_ones_until_restored(
    server: LocalServer,
) -> None:
    async with FaultProxy(server.port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(REQUEST)
        await asyncio.wait_for(reader.readuntil(ANSWER_BODY), 2)
        assert proxy.open_connections == 1
        cutting = asyncio.create_task(proxy.cut_for(0.3))
        await asyncio.sleep(0.05)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(65536), 2)
        writer.close()
        assert await exchange(proxy.port) == (b"", "reset")
        assert await cutting == 1
        received, ending = await exchange(proxy.port)
        assert ending == "answered"
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
