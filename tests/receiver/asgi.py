"""Calling an ASGI app in process, without a server or an HTTP client library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from faxpush.receiver.app import ASGIApp, Message


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    bytes_read: int = 0  # how much of the request body the app asked for

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]


async def call(
    app: ASGIApp,
    method: str = "POST",
    target: str = "/",
    *,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    chunk: int = 65536,
    send_length: bool = True,
) -> Answer:
    """One HTTP request to ``app``; the body arrives in chunks of ``chunk`` bytes."""
    path, _, query = target.partition("?")
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if send_length and not any(k == b"content-length" for k, _ in raw_headers):
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    sent: list[int] = []

    async def receive() -> Message:
        if len(sent) < len(pieces):
            sent.append(len(pieces[len(sent)]))
            return {
                "type": "http.request",
                "body": pieces[len(sent) - 1],
                "more_body": len(sent) < len(pieces),
            }
        return {"type": "http.disconnect"}

    answer = Answer(0)

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = [
                (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in message["headers"]
            ]
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    answer.bytes_read = sum(sent)
    return answer
