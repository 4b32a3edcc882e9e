"""A TCP fault proxy for tests: sits between a client and a server on 127.0.0.1 and breaks
the connection in a chosen way. The mode can be changed at any time.

Each time the client sends bytes (a new HTTP request, a database query) the connection takes
the proxy's current mode for the answer to them, so a switch applies from the next request
on, also on kept-alive connections. The modes:

=========================  ==================================================================
PASS                       forward both ways
RESET_BEFORE_ANSWER        forward the request; reset the client's connection (RST, not FIN)
                           when the answer starts, forwarding none of it. The server has
                           seen the request: a retry is a duplicate for it
RESET_AFTER_STATUS_LINE    forward the answer up to its first CRLF (``HTTP/1.1 200 OK``), RST
RESET_MID_BODY             forward the head and part of the body, RST (the answer needs a body)
STALL                      accept and read, never forward nor answer
CUT                        reset every open connection and every new one (a database down)
=========================  ==================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType


class Mode(StrEnum):
    PASS = "pass"
    RESET_BEFORE_ANSWER = "reset before answer"
    RESET_AFTER_STATUS_LINE = "reset after status line"
    RESET_MID_BODY = "reset mid-body"
    STALL = "stall"
    CUT = "cut"


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER 0, then close without a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    mode: Mode = Mode.PASS
    answer: bytearray = field(default_factory=bytearray)  # the current answer, while held back

    def close(self) -> None:
        reset(self.client)
        self.upstream.transport.abort()


class FaultProxy:
    """``async with FaultProxy(upstream_port) as proxy``: listens on ``proxy.port``."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = Mode.PASS
        self.port = 0
        self.accepted = 0
        self.resets = 0  # connections this proxy reset on purpose
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for link in list(self._links):
            link.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def cut(self) -> int:
        """Reset every open connection and refuse new ones until :meth:`restore`;
        returns how many were open."""
        self.mode = Mode.CUT
        links = list(self._links)
        for link in links:
            link.close()
        self.resets += len(links)
        return len(links)

    def restore(self) -> None:
        self.mode = Mode.PASS

    async def cut_for(self, seconds: float) -> int:
        """Cut, wait ``seconds``, restore."""
        dropped = self.cut()
        await asyncio.sleep(seconds)
        self.restore()
        return dropped

    # --- one connection ------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._proxy(reader, writer)
        except asyncio.CancelledError:
            pass  # the proxy is closing; asyncio's stream callback would log a cancelled task
        finally:
            self._tasks.discard(task)

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode is Mode.CUT:
            self.resets += 1
            reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            reset(writer)
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        pumps = [
            asyncio.create_task(self._requests(link, reader)),
            asyncio.create_task(self._answers(link, up_reader)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._links.discard(link)
            if not link.client.is_closing():
                link.client.close()
            link.upstream.transport.abort()

    async def _requests(self, link: _Link, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            link.mode = self.mode
            link.answer.clear()
            if link.mode is Mode.STALL:
                continue
            if link.mode is Mode.CUT:
                raise ConnectionResetError  # cut() already reset it
            link.upstream.write(chunk)
            await link.upstream.drain()
        if link.upstream.can_write_eof():
            link.upstream.write_eof()
        await asyncio.Event().wait()  # the answer may still be coming; _answers ends the link

    async def _answers(self, link: _Link, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            if link.mode in (Mode.PASS, Mode.STALL):
                if link.mode is Mode.PASS:
                    link.client.write(chunk)
                    await link.client.drain()
                continue
            link.answer += chunk
            cut_at = _cut_point(link.mode, bytes(link.answer))
            if cut_at is None:
                continue  # not enough of the answer yet to know where to cut
            if cut_at:
                link.client.write(bytes(link.answer[:cut_at]))
                await link.client.drain()
                await asyncio.sleep(0.02)  # let the client read it: an RST may discard it unread
            self.resets += 1
            reset(link.client)
            raise ConnectionResetError
        raise ConnectionAbortedError  # the server closed: close the client's side too


def _cut_point(mode: Mode, answer: bytes) -> int | None:
    """How many bytes of ``answer`` to forward before the reset; None: wait for more."""
    if mode in (Mode.RESET_BEFORE_ANSWER, Mode.CUT):
        return 0
    if mode is Mode.RESET_AFTER_STATUS_LINE:
        end = answer.find(b"\r\n")
        return None if end < 0 else end + 2
    head_end = answer.find(b"\r\n\r\n")
    if head_end < 0 or len(answer) < head_end + 6:
        return None
    body = len(answer) - head_end - 4
    return head_end + 4 + body // 2


__all__ = ["FaultProxy", "Mode", "reset"]
