"""The receiver as an ASGI app (Starlette-compatible), served by ``faxpush listen``.

* ``POST`` to any path is a push (other methods answer 405);
* ``GET /openapi.json`` serves the OpenAPI description of the push operation;
* extra ASGI apps can be mounted under path prefixes (``faxpush listen --oauth2-issuer``
  mounts its token endpoint and JWKS under ``/oauth2``).

The push path is plain ASGI rather than a Starlette ``Request``: a receiver answers many
small requests, and the framework layer measurably lowered its throughput. Mount it in a
Starlette app with ``Mount("/fax", app=ReceiverApp(receiver))``; since mounted apps get no
lifespan events, the receiver also starts on its first request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from faxpush.receiver._deadlines import DEFAULT_BODY_TIMEOUT, BodyDeadlines
from faxpush.receiver.errors import BodyTimeoutError, IncompleteBodyError
from faxpush.receiver.openapi import openapi_bytes
from faxpush.receiver.service import JSON_HEADERS, PushReceiver, PushRequest, ReceiverResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPENAPI_PATH = "/openapi.json"
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


def request_target(scope: Scope) -> str:
    """The request target as the client sent it: raw path, then ``?query`` if any."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes | bytearray) else scope["path"]
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def _local_path(scope: Scope) -> str:
    # Under a mount, ASGI servers and Starlette pass the full path and the mount point as
    # root_path; this app's own routes (/openapi.json, --path) are below the mount point.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def push_request(scope: Scope) -> PushRequest:
    """A :class:`PushRequest` from an ASGI HTTP scope."""
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
    return PushRequest(scope["method"], request_target(scope), headers)


def body_reader(
    receive: Receive, deadlines: BodyDeadlines | None = None
) -> Callable[[int], Awaitable[bytes]]:
    """Reads the ASGI request body, stopping once more than ``limit`` bytes arrived; with
    ``deadlines``, a body that takes longer than their timeout is refused with 408."""

    async def read(limit: int) -> bytes:
        task = None if deadlines is None else deadlines.start()
        try:
            message = await receive()
            if not message.get("more_body", False):  # the whole body in one message: usual
                if message["type"] != "http.request":
                    raise IncompleteBodyError
                body: bytes = message.get("body", b"")
                return body
            chunks: list[bytes] = [message.get("body", b"")]
            size = len(chunks[0])
            while size < limit:
                message = await receive()
                if message["type"] != "http.request":
                    raise IncompleteBodyError
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                if not message.get("more_body", False):
                    break
            return b"".join(chunks)
        except asyncio.CancelledError:
            if task is None or deadlines is None or not deadlines.timed_out(task):
                raise
            task.uncancel()
            raise BodyTimeoutError(
                f"the body did not arrive within {deadlines.timeout:g} s; send it again"
            ) from None
        finally:
            if task is not None and deadlines is not None:
                deadlines.finish(task)

    return read


async def send_response(send: Send, response: ReceiverResponse) -> None:
    """Send a receiver answer over ASGI."""
    if response.headers is JSON_HEADERS:  # every 200, and most refusals
        headers = [_JSON_CONTENT_TYPE]
    else:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


_NOT_FOUND = ReceiverResponse(
    404,
    (("content-type", "application/json"),),
    b'{"error":"not_found","detail":"no push endpoint at this path"}',
)


class ReceiverApp:
    """ASGI app around a :class:`PushReceiver`.

    ``path``: accept pushes only there (404 elsewhere; default: any path); ``mounts`` maps
    path prefixes to other ASGI apps; ``openapi`` replaces the served description;
    ``body_timeout``: seconds a push body may take to arrive once the app starts reading it
    (then 408 and the connection closed; None: no limit), whichever server runs the app.
    """

    def __init__(
        self,
        receiver: PushReceiver,
        *,
        path: str | None = None,
        mounts: Mapping[str, ASGIApp] | None = None,
        serve_openapi: bool = True,
        openapi: bytes | None = None,
        body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        self.receiver = receiver
        self._deadlines = None if body_timeout is None else BodyDeadlines(body_timeout)
        self.path = path
        self._mounts = {prefix.rstrip("/"): app for prefix, app in (mounts or {}).items()}
        if serve_openapi:
            self._openapi: bytes | None = openapi or openapi_bytes(path=path or "/")
        else:
            self._openapi = None
        self._started = False
        self._start_lock = asyncio.Lock()

    async def startup(self) -> None:
        """Start the receiver (idempotent)."""
        async with self._start_lock:
            if not self._started:
                await self.receiver.start()
                self._started = True

    async def shutdown(self) -> None:
        """Stop the receiver (idempotent)."""
        async with self._start_lock:
            if self._started:
                self._started = False
                await self.receiver.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        path = _local_path(scope)
        for prefix, app in self._mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                await app(scope, receive, send)
                return
        if self._openapi is not None and path == OPENAPI_PATH and scope["method"] == "GET":
            headers = [(b"content-type", b"application/json")]
            headers.append((b"content-length", str(len(self._openapi)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": self._openapi})
            return
        if self.path is not None and path != self.path:
            await send_response(send, _NOT_FOUND)
            return
        if not self._started:
            await self.startup()
        read = body_reader(receive, self._deadlines)
        response = await self.receiver.receive(push_request(scope), read)
        await send_response(send, response)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    receiver: PushReceiver,
    *,
    path: str | None = None,
    mounts: Mapping[str, ASGIApp] | None = None,
    serve_openapi: bool = True,
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
) -> ReceiverApp:
    """The receiver's ASGI app (see :class:`ReceiverApp`)."""
    return ReceiverApp(
        receiver,
        path=path,
        mounts=mounts,
        serve_openapi=serve_openapi,
        body_timeout=body_timeout,
    )


@asynccontextmanager
async def receiver_lifespan(receiver: PushReceiver) -> AsyncIterator[None]:
    """Start and stop ``receiver`` around an application's life (for framework lifespans)."""
    await receiver.start()
    try:
        yield
    finally:
        await receiver.stop()


__all__ = [
    "OPENAPI_PATH",
    "ReceiverApp",
    "body_reader",
    "create_app",
    "push_request",
    "receiver_lifespan",
    "request_target",
    "send_response",
]
