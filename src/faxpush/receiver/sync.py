"""A blocking face for WSGI frameworks (Flask, Django): the same async receiver, driven on
an event loop in a background thread.

The receiver, its inbox and its handlers all live on that one loop; a request thread reads
the body (after the method and declared length passed), hands it over, and waits for the
answer. This is a thin wrapper, not a second engine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any
from urllib.parse import quote

from faxpush.receiver.service import PushReceiver, PushRequest, ReceiverResponse

_PATH_SAFE = "/%:@!$&'()*+,;=~"


class SyncReceiver:
    """Runs ``receiver`` on a private event loop thread; call :meth:`close` when done."""

    def __init__(self, receiver: PushReceiver, *, timeout: float = 30.0) -> None:
        self.receiver = receiver
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="faxpush-receiver", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._call(receiver.start())

    def _call(self, work: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result(timeout=self._timeout)

    def handle(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        read: Callable[[int], bytes],
    ) -> ReceiverResponse:
        """Answer one request; ``read(n)`` reads up to ``n`` body bytes (blocking)."""
        request = PushRequest(method.upper(), target, [(k.lower(), v) for k, v in headers])
        early = self.receiver.early_refusal(request)
        if early is not None:
            return early
        body = read(self.receiver.max_body_bytes + 1)

        async def read_body(_limit: int) -> bytes:
            return body

        response: ReceiverResponse = self._call(self.receiver.receive(request, read_body))
        return response

    def close(self) -> None:
        """Stop the receiver and its loop thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self.receiver.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=self._timeout)
            self._loop.close()


def wsgi_target(environ: dict[str, Any]) -> str:
    """The request target as sent, from a WSGI environ (``RAW_URI``/``REQUEST_URI`` when the
    server provides them, else rebuilt from the decoded path)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw
    # WSGI decodes PATH_INFO as latin-1; quoting it again approximates what was sent.
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe=_PATH_SAFE)
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


__all__ = ["SyncReceiver", "wsgi_target"]
