"""The live view of ``faxpush listen --ui``: an ASGI app in front of the receiver.

* ``GET /`` draws the page: the kept pushes, newest first, each with its raw headers and
  body in a ``<details>`` (readable without JavaScript);
* ``GET /_live/pushes?after=N`` answers the pushes numbered above ``N`` as HTML fragments
  (JSON), which the page's script fetches once a second to add new pushes without a reload;
* every POST, to any path, goes to the receiver as before and is recorded on its way back.

Every value from a request is escaped by the templates (Jinja2 autoescape), and the pages
forbid inline scripts and foreign sources (Content-Security-Policy), so a hostile body
cannot run anything even if something slipped through.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs

from jinja2 import DictLoader, Environment, Template

from faxpush.receiver.app import ASGIApp, Message, Receive, Scope, Send, request_target
from faxpush.receiver.live.ring import (
    LivePush,
    LiveRing,
    RequestCapture,
    current_capture,
    shown_headers,
)

PREFIX: Final = "/_live"
_SECURITY_HEADERS: Final = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
_STATIC: Final = {
    f"{PREFIX}/live.js": "text/javascript; charset=utf-8",
    f"{PREFIX}/live.css": "text/css; charset=utf-8",
}


def _package_text(name: str) -> str:
    return resources.files("faxpush.receiver.live").joinpath(name).read_text("utf-8")


@cache
def _templates() -> Environment:
    loader = DictLoader({name: _package_text(name) for name in ("page.html", "push.html")})
    return Environment(loader=loader, autoescape=True, auto_reload=False)


@cache
def _static(path: str) -> bytes:
    return _package_text("static/" + path.rsplit("/", 1)[1]).encode("utf-8")


def _template(name: str) -> Template:
    return _templates().get_template(name)


def render_push(push: LivePush) -> str:
    """One push as the page's list item (also what the page's script inserts)."""
    return _template("push.html").render(push=push)


class LiveApp:
    """Serves the live page and records every POST that ``receiver_app`` answers.

    ``push_url`` is shown on the page as where to send pushes; POSTs under the path
    prefixes in ``unrecorded`` (an OAuth2 token endpoint, whose bodies carry client
    secrets) are passed on without being recorded.
    """

    def __init__(
        self,
        receiver_app: ASGIApp,
        ring: LiveRing,
        *,
        push_url: str,
        unrecorded: Iterable[str] = (),
    ) -> None:
        self._inner = receiver_app
        self.ring = ring
        self._push_url = push_url
        self._unrecorded = tuple(prefix.rstrip("/") for prefix in unrecorded)

    def _records(self, path: str) -> bool:
        return not any(path == p or path.startswith(p + "/") for p in self._unrecorded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if method == "POST" and self._records(path):
            await self._recorded(scope, receive, send)
        elif method == "GET" and path == "/":
            await self._answer(send, 200, "text/html; charset=utf-8", self._page().encode())
        elif method == "GET" and path == f"{PREFIX}/pushes":
            await self._answer(send, 200, "application/json", self._news(scope))
        elif method == "GET" and path in _STATIC:
            await self._answer(send, 200, _STATIC[path], _static(path))
        else:
            await self._inner(scope, receive, send)

    async def _recorded(self, scope: Scope, receive: Receive, send: Send) -> None:
        capture = RequestCapture(shown_headers(scope["headers"]))

        async def tapped_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                capture.took(message.get("body", b""))
            return message

        async def tapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                capture.status = message["status"]
            await send(message)

        token = current_capture.set(capture)
        try:
            await self._inner(scope, tapped_receive, tapped_send)
        finally:
            current_capture.reset(token)
            self.ring.record(scope["method"], request_target(scope), capture)

    def _page(self) -> str:
        return _template("page.html").render(
            pushes=self.ring.newest_first(),
            keep=self.ring.keep,
            last_seq=self.ring.last_seq,
            prefix=PREFIX,
            push_url=self._push_url,
        )

    def _news(self, scope: Scope) -> bytes:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        after_text = (query.get("after") or ["0"])[0]
        after = int(after_text) if after_text.isdigit() else 0
        document: dict[str, Any] = {
            "last": self.ring.last_seq,
            "pushes": [render_push(push) for push in self.ring.after(after)],
        }
        return json.dumps(document).encode("utf-8")

    @staticmethod
    async def _answer(send: Send, status: int, content_type: str, body: bytes) -> None:
        headers = [(b"content-type", content_type.encode("ascii")), *_SECURITY_HEADERS]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


__all__ = ["PREFIX", "LiveApp", "render_push"]
