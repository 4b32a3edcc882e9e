"""The pushes ``faxpush listen --ui`` shows: the last few, kept in memory, newest last.

A push is recorded by :class:`LiveApp` around the receiver's own handling: the request's
headers and (the start of) its body as they came in, and the receiver's :class:`Receipt`
(auth verdict, parsed report, outcome), which the receiver hands to :meth:`LiveRing.observe`
while it answers the same request. The receipt is matched to its request through a context
variable, since the hook is called inside the request's task.
"""

from __future__ import annotations

from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from faxpush.receiver.parse import JSON_MEDIA_TYPES, XML_MEDIA_TYPES, media_type
from faxpush.receiver.service import Receipt

DEFAULT_KEEP: Final = 100
SHOWN_BODY_BYTES: Final = 64 * 1024
"""The start of a body kept for the page; the receiver reads (and may store) more."""
HIDDEN_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})


@dataclass(frozen=True, slots=True)
class LiveRecipient:
    number: str
    status: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class LivePush:
    """One POST as the live page shows it."""

    seq: int
    received_at: datetime
    method: str
    target: str
    status: int
    outcome: str
    verdict: str
    job_id: str | None
    layout: str
    recipients: tuple[LiveRecipient, ...]
    headers: tuple[tuple[str, str], ...]
    body: str
    body_note: str
    duration_ms: float


@dataclass(slots=True)
class RequestCapture:
    """What :class:`LiveApp` collects while one request goes through the receiver."""

    headers: tuple[tuple[str, str], ...]
    body: bytearray = field(default_factory=bytearray)
    body_size: int = 0
    body_read: bool = False
    status: int | None = None
    receipt: Receipt | None = None

    def took(self, chunk: bytes) -> None:
        self.body_read = True
        self.body_size += len(chunk)
        room = SHOWN_BODY_BYTES - len(self.body)
        if room > 0:
            self.body += chunk[:room]


current_capture: ContextVar[RequestCapture | None] = ContextVar(
    "faxpush_live_capture", default=None
)


def shown_headers(raw: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    """Header names and values as received, credentials replaced by their scheme."""
    shown = []
    for key, value in raw:
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        if name in HIDDEN_HEADERS:
            scheme = text.split(" ", 1)[0] if name != "cookie" else ""
            text = f"{scheme} (hidden, {len(text)} characters)".lstrip()
        shown.append((name, text))
    return tuple(shown)


def _layout(headers: tuple[tuple[str, str], ...]) -> str:
    content_type = next((v for k, v in headers if k == "content-type"), "")
    kind = media_type(content_type)
    if kind in XML_MEDIA_TYPES:
        return "XML"
    if kind in JSON_MEDIA_TYPES:
        return "JSON"
    return kind[:40] or "-"


def _verdict(receipt: Receipt | None) -> str:
    if receipt is None:
        return "-"
    if receipt.auth is not None:
        return f"accepted: {receipt.auth.describe()}"
    if receipt.status in (401, 503) and receipt.reason:
        return f"refused: {receipt.reason}"
    return "not checked"


def _body_note(capture: RequestCapture) -> str:
    if not capture.body_read:
        return "not read: the request was answered before its body"
    if capture.body_size > len(capture.body):
        return f"first {len(capture.body)} of {capture.body_size} bytes"
    return f"{capture.body_size} bytes"


class LiveRing:
    """The last ``keep`` pushes, newest last, numbered from 1 in arrival order."""

    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep at least one push")
        self.keep = keep
        self._pushes: deque[LivePush] = deque(maxlen=keep)
        self._last_seq = 0

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def observe(self, receipt: Receipt) -> None:
        """A receipt hook: hands the receipt to the request being captured, if any."""
        capture = current_capture.get()
        if capture is not None:
            capture.receipt = receipt

    def record(self, method: str, target: str, capture: RequestCapture) -> LivePush:
        """Keep one finished request (the oldest kept falls out when the ring is full)."""
        receipt = capture.receipt
        report = None if receipt is None else receipt.report
        self._last_seq += 1
        push = LivePush(
            seq=self._last_seq,
            received_at=datetime.now(UTC),
            method=method,
            target=target,
            status=capture.status or (receipt.status if receipt else 0),
            outcome=receipt.outcome if receipt else "answered",
            verdict=_verdict(receipt),
            job_id=None if report is None else report.jobId,
            layout=_layout(capture.headers),
            recipients=()
            if report is None
            else tuple(LiveRecipient(r.number, r.status, r.reason) for r in report.faxRecipients),
            headers=capture.headers,
            body=bytes(capture.body).decode("utf-8", errors="replace"),
            body_note=_body_note(capture),
            duration_ms=receipt.duration_ms if receipt else 0.0,
        )
        self._pushes.append(push)
        return push

    def newest_first(self) -> list[LivePush]:
        return list(reversed(self._pushes))

    def after(self, seq: int) -> list[LivePush]:
        """The kept pushes numbered above ``seq``, oldest first."""
        return [p for p in self._pushes if p.seq > seq]


__all__ = [
    "DEFAULT_KEEP",
    "LivePush",
    "LiveRecipient",
    "LiveRing",
    "RequestCapture",
    "current_capture",
    "shown_headers",
]
