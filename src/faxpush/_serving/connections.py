"""Read deadlines and a connection limit for faxpush's HTTP servers (uvicorn, httptools).

uvicorn closes idle keep-alive connections, but it never times out a request whose headers
or body stop arriving, and it accepts connections until the process runs out of file
descriptors. A request declaring ``Content-Length: 10`` and sending nothing held its
connection for good; 1,100 of them under a 1,024-file limit stopped every other push.

:class:`GuardedHttpProtocol` keeps two deadlines per connection, as plain floats: the
request head must be complete ``header_timeout`` seconds after the connection opened (or,
on a kept-alive connection, after the request's first byte), and the body
``body_timeout`` seconds after the head. :class:`ConnectionGuard` checks them from the
server's tick rather than with a timer per request: arming and cancelling a timer for each
request cost about 5 µs, this about 0.5 µs. A late request is answered 408 (when anything
of it arrived and no answer was started) and closed.

Over ``max_connections`` a new connection gets a complete 503 straight away and is closed
once the client has read it (or after a second): a clear refusal, not a connection left
waiting, and the descriptor is back within the second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import ClassVar, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from faxpush._serving.limits import ServerLimits
from faxpush._serving.throttle import ThrottledWarning

REFUSAL_LINGER: Final = 1.0  # seconds a refused client gets to read its 503
UNSTAMPED: Final = -1.0

logger = logging.getLogger("faxpush.server")


def _answer(status: bytes, error: bytes, detail: bytes, extra: bytes = b"") -> bytes:
    body = b'{"error":"%s","detail":"%s"}' % (error, detail)
    return (
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n%s\r\n%s" % (status, len(body), extra, body)
    )


REFUSED: Final = _answer(
    b"503 Service Unavailable",
    b"too_many_connections",
    b"the server is at its connection limit; retry later",
    b"retry-after: 10\r\n",
)
TIMED_OUT: Final = _answer(
    b"408 Request Timeout",
    b"request_timeout",
    b"the request did not arrive in time; send it again",
)


class _Refusal(asyncio.Protocol):
    """A connection over the limit: answered 503 at once, its request read and dropped
    (closing with unread data would reset the connection and could lose the answer), and
    closed when the client hangs up or after :data:`REFUSAL_LINGER`."""

    def __init__(self, transport: asyncio.Transport, guard: ConnectionGuard) -> None:
        self._transport = transport
        self._guard = guard
        guard.refusing.add(self)
        transport.write(REFUSED)
        if transport.can_write_eof():
            transport.write_eof()
            loop = asyncio.get_running_loop()
            self._timer: asyncio.TimerHandle | None = loop.call_later(
                REFUSAL_LINGER, transport.close
            )
        else:  # TLS: no half-close; close_notify follows the answer
            self._timer = None
            transport.close()

    def data_received(self, data: bytes) -> None:
        pass  # the request of a refused connection is read and dropped

    def eof_received(self) -> bool | None:
        return None  # the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.refusing.discard(self)
        if self._timer is not None:
            self._timer.cancel()

    def close(self) -> None:
        self._transport.close()


class ConnectionGuard:
    """The limits of one server, the connections it is refusing, and the deadline check."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.refusing: set[_Refusal] = set()
        self._refusals = ThrottledWarning(logger)

    def refuse(self, transport: asyncio.Transport) -> None:
        """Answer ``transport`` 503 and close it (see :class:`_Refusal`)."""
        transport.set_protocol(_Refusal(transport, self))
        self._refusals.warning(
            f"refusing new connections: {self.limits.max_connections} are open, the "
            "connection limit (--max-connections); answered 503"
        )

    def expire(self, connections: Iterable[object], now: float) -> None:
        """Close every connection whose request is late."""
        for connection in tuple(connections):
            if isinstance(connection, GuardedHttpProtocol):
                connection.expire(now)

    def close_all(self) -> None:
        """Close the connections being refused (the server closes the others)."""
        for refusal in tuple(self.refusing):
            refusal.close()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request deadlines and connection limit of
    :attr:`guard` (a subclass per server sets it: :func:`guarded_protocol`).

    A request only marks which part of it is awaited (:data:`UNSTAMPED`); the server's
    check stamps the deadline when it first sees the mark, so a request that is done
    before the next check (nearly all) reads no clock. Deadlines run late by at most two
    check intervals (0.4 s).
    """

    guard: ClassVar[ConnectionGuard]

    _head_deadline = 0.0  # 0: not awaiting a request head; UNSTAMPED: awaiting, no deadline yet
    _body_deadline = 0.0  # likewise for the body of the current request
    _head_begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        guard = self.guard
        if len(self.connections) + len(guard.refusing) >= guard.limits.max_connections:
            guard.refuse(transport)
            return
        super().connection_made(transport)
        self._head_deadline = self.loop.time() + guard.limits.header_timeout

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True
        if not self._head_deadline:  # a kept-alive connection's next request
            self._head_deadline = UNSTAMPED

    def on_headers_complete(self) -> None:
        self._head_deadline = 0.0
        self._body_deadline = UNSTAMPED
        super().on_headers_complete()

    def expire(self, now: float) -> None:
        """Close the connection if its request is late: answered 408 when some of it
        arrived and no answer was started, closed silently otherwise."""
        transport = self.transport
        if transport.is_closing():
            return
        limits = self.guard.limits
        if head := self._head_deadline:
            if head == UNSTAMPED:
                self._head_deadline = now + limits.header_timeout
            elif now >= head:
                if self._head_begun:
                    transport.write(TIMED_OUT)
                transport.close()
            return
        cycle: RequestResponseCycle | None = self.cycle  # None before the first head
        if not (body := self._body_deadline) or cycle is None or not cycle.more_body:
            return
        if body == UNSTAMPED:
            self._body_deadline = now + limits.body_timeout
        elif now >= body:
            if not cycle.response_started:
                transport.write(TIMED_OUT)
            cycle.disconnected = True  # the app's own answer, if any, is dropped
            transport.close()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedHttpProtocol]:
    """A :class:`GuardedHttpProtocol` class bound to ``guard`` (uvicorn takes a class)."""

    class ServerProtocol(GuardedHttpProtocol):
        pass

    ServerProtocol.guard = guard
    return ServerProtocol


__all__ = ["ConnectionGuard", "GuardedHttpProtocol", "guarded_protocol"]
