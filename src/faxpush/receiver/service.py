"""The framework-neutral receiver: one request in, one answer out.

:meth:`PushReceiver.receive` runs the checks in this order, cheapest and least revealing
first: method (405), declared length (413, before a byte of the body is read),
authentication (401, or 503 when the verifier's key source is down), Content-Type (415),
delivery id header (400), body read with a cap (413), parse (400), store (503 when the inbox
fails). Only after the commit does it answer 2xx, and only a new push is handed to the
handlers; a duplicate answers 200 as well. Every framework integration calls this.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote
from typing import Final

from faxpush.core.errors import REFUSAL_NAMES, ReportFormatError, StorageError
from faxpush.core.formats import DEFAULT_MAX_REPORT_BYTES
from faxpush.core.models import FaxJobReport
from faxpush.receiver.errors import (
    AuthenticationRequiredError,
    BadPushRequestError,
    BodyTooLargeError,
    MethodNotAllowedError,
    PushRefusedError,
)
from faxpush.receiver.handlers import Handler, HandlerRunner
from faxpush.receiver.inbox import (
    DELIVERY_ID_HEADER,
    InboxStore,
    IncomingPush,
    inbox_key,
    open_inbox,
    valid_delivery_id,
)
from faxpush.receiver.mapping import ReverseMapping
from faxpush.receiver.parse import body_format, parse
from faxpush.receiver.verify.base import AuthRequest, AuthResult, NoAuthVerifier, Verifier

DEFAULT_INBOX_URL: Final = "sqlite:///faxpush-inbox.db"
JSON_TYPE: Final = "application/json"
RETRY_AFTER_SECONDS: Final = "10"

BodyReader = Callable[[int], Awaitable[bytes]]
"""Reads the request body, at most the given number of bytes."""

logger = logging.getLogger("faxpush.receiver")


@dataclass(frozen=True, slots=True)
class PushRequest:
    """An HTTP request as the receiver needs it; header names are lower-case."""

    method: str
    target: str  # path and query as sent
    headers: Sequence[tuple[str, str]]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def all(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (lower-case)."""
        return tuple([v for k, v in self.headers if k == name])


@dataclass(frozen=True, slots=True)
class ReceiverResponse:
    """The answer to send: status, headers and a small JSON body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """What happened to one request, for hooks (``faxpush listen`` prints these).

    ``outcome`` is ``stored``, ``duplicate``, ``refused`` or ``error``.
    """

    status: int
    outcome: str
    target: str
    duration_ms: float
    auth: AuthResult | None = None
    report: FaxJobReport | None = None
    key: str | None = None
    times_received: int = 0
    reason: str | None = None
    method: str = "POST"


ReceiptHook = Callable[[Receipt], None]


JSON_HEADERS: Final = (("content-type", JSON_TYPE),)
"""The headers of a 200 answer (the ASGI app sends them pre-encoded)."""


def _answer(
    status: int, document: Mapping[str, object], headers: Iterable[tuple[str, str]] = ()
) -> ReceiverResponse:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return ReceiverResponse(status, (*JSON_HEADERS, *headers), body)


class PushReceiver:
    """Accepts, authenticates, parses and stores pushes, then runs the handlers.

    ``inbox`` is a store or a URL (opened by :meth:`start`, closed by :meth:`stop`);
    ``mapping`` reads a customer's individual layout instead of the default ones;
    ``on_receipt`` hooks see every request's outcome (never credentials).
    """

    def __init__(
        self,
        *,
        verifier: Verifier | None = None,
        inbox: InboxStore | str = DEFAULT_INBOX_URL,
        handlers: Mapping[str, Handler] | Iterable[Handler] = (),
        mapping: ReverseMapping | None = None,
        max_body_bytes: int = DEFAULT_MAX_REPORT_BYTES,
        on_receipt: Sequence[ReceiptHook] = (),
        handler_poll_interval: float = 1.0,
    ) -> None:
        self.verifier: Verifier = verifier if verifier is not None else NoAuthVerifier()
        self._inbox_url = inbox if isinstance(inbox, str) else None
        self._inbox = None if isinstance(inbox, str) else inbox
        self._handlers = handlers
        self._poll_interval = handler_poll_interval
        self._runner: HandlerRunner | None = None
        self.mapping = mapping
        self.max_body_bytes = max_body_bytes
        self._hooks = tuple(on_receipt)

    @property
    def inbox(self) -> InboxStore:
        """The inbox (available once started)."""
        if self._inbox is None:
            raise StorageError("the receiver is not started; its inbox is not open yet")
        return self._inbox

    @property
    def runner(self) -> HandlerRunner:
        """The handler runner (available once started)."""
        if self._runner is None:
            raise StorageError("the receiver is not started")
        return self._runner

    async def start(self) -> None:
        """Open the inbox (when given as a URL) and start the handler runner."""
        if self._inbox is None:
            assert self._inbox_url is not None
            self._inbox = await open_inbox(self._inbox_url)
        if self._runner is None:
            self._runner = HandlerRunner(
                self._inbox, self._handlers, poll_interval=self._poll_interval
            )
            self._runner.start()

    async def stop(self) -> None:
        """Stop the handlers, close the verifier and the inbox this receiver opened."""
        if self._runner is not None:
            await self._runner.stop()
            self._runner = None
        await self.verifier.aclose()
        if self._inbox_url is not None and self._inbox is not None:
            await self._inbox.close()
            self._inbox = None

    async def receive(self, request: PushRequest, read_body: BodyReader) -> ReceiverResponse:
        """Handle one push request (see the module docstring for the order of checks)."""
        started = time.perf_counter()
        auth: AuthResult | None = None
        report: FaxJobReport | None = None
        try:
            self._precheck(request)
            authorization = request.all("authorization")
            auth = await self.verifier.verify(
                AuthRequest(request.method, request.target, authorization)
            )
            delivery_id = self._delivery_id(request)
            content_type = request.header("content-type") or ""
            body_format(content_type)
            body = self._within_limit(await read_body(self.max_body_bytes + 1))
            report = parse(body, content_type, mapping=self.mapping, max_bytes=self.max_body_bytes)
            key = inbox_key(report, delivery_id)
            push = IncomingPush(
                key,
                content_type,
                body,
                report,
                auth.method,
                auth.principal,
                delivery_id,
                default_layout=self.mapping is None,
            )
            inbox, runner = self.inbox, self.runner
            accepted = await inbox.accept(push, handlers=runner.names, now=datetime.now(UTC))
        except PushRefusedError as exc:
            return self._refused(exc, request, started, auth, report)
        except ReportFormatError as exc:
            self._emit(
                Receipt(
                    400,
                    "refused",
                    request.target,
                    _ms(started),
                    auth,
                    reason=str(exc),
                    method=request.method,
                )
            )
            return _answer(400, {"error": "invalid_report", "detail": str(exc)})
        except StorageError as exc:
            logger.warning("cannot store a push: %s", exc)
            self._emit(
                Receipt(
                    503,
                    "error",
                    request.target,
                    _ms(started),
                    auth,
                    report,
                    reason=str(exc),
                    method=request.method,
                )
            )
            return _answer(
                503,
                {
                    "error": "storage_unavailable",
                    "detail": "the push could not be stored; retry later",
                },
                [("retry-after", RETRY_AFTER_SECONDS)],
            )
        except Exception:  # a bug here answers 500, never a dropped connection
            logger.exception("receiving a push failed")
            self._emit(
                Receipt(
                    500,
                    "error",
                    request.target,
                    _ms(started),
                    auth,
                    report,
                    reason="internal error",
                    method=request.method,
                )
            )
            return _answer(500, {"error": "internal", "detail": "the receiver failed"})
        if accepted.created:
            runner.notify(key)
        outcome = "stored" if accepted.created else "duplicate"
        if self._hooks:
            self._emit(
                Receipt(
                    200,
                    outcome,
                    request.target,
                    _ms(started),
                    auth,
                    report,
                    key,
                    accepted.times_received,
                    method=request.method,
                )
            )
        # Built by hand: this answer is sent for every push, and json.dumps of a dict costs
        # several times more than quoting two strings (the same quoting json.dumps applies).
        answer = f'{{"status":"{outcome}","key":{_quote(key)},"jobId":{_quote(report.jobId)}}}'
        return ReceiverResponse(200, JSON_HEADERS, answer.encode("ascii"))

    def early_refusal(self, request: PushRequest) -> ReceiverResponse | None:
        """The answer for a request refused on its method or declared length alone, before
        any of its body is read; None when it may go on. Sync adapters call this first."""
        try:
            self._precheck(request)
        except PushRefusedError as exc:
            return self._refused(exc, request, time.perf_counter(), None, None)
        return None

    def _precheck(self, request: PushRequest) -> None:
        if request.method != "POST":
            raise MethodNotAllowedError(
                f"{request.method[:16]} is not accepted here; pushes are POSTed",
                headers=[("allow", "POST")],
            )
        declared = request.header("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise BadPushRequestError("the Content-Length header is not a number")
            if int(declared) > self.max_body_bytes:
                raise BodyTooLargeError(
                    f"the body is {int(declared)} bytes, more than the limit of "
                    f"{self.max_body_bytes}; send a smaller report"
                )

    def _within_limit(self, body: bytes) -> bytes:
        if len(body) > self.max_body_bytes:
            raise BodyTooLargeError(f"the body is larger than {self.max_body_bytes} bytes")
        return body

    def _refused(
        self,
        exc: PushRefusedError,
        request: PushRequest,
        started: float,
        auth: AuthResult | None,
        report: FaxJobReport | None,
    ) -> ReceiverResponse:
        reason = exc.reason if isinstance(exc, AuthenticationRequiredError) else str(exc)
        self._emit(
            Receipt(
                exc.status,
                "refused",
                request.target,
                _ms(started),
                auth,
                report,
                reason=reason,
                method=request.method,
            )
        )
        headers = list(exc.headers)
        if exc.status == 503:
            headers.append(("retry-after", RETRY_AFTER_SECONDS))
        document = {"error": REFUSAL_NAMES.get(exc.status, "refused"), "detail": str(exc)}
        return _answer(exc.status, document, headers)

    @staticmethod
    def _delivery_id(request: PushRequest) -> str | None:
        values = request.all(DELIVERY_ID_HEADER.lower())
        if not values:
            return None
        if len(values) > 1 or not valid_delivery_id(values[0]):
            raise BadPushRequestError(
                f"the {DELIVERY_ID_HEADER} header must appear once, with 1 to 200 printable "
                "ASCII characters"
            )
        return values[0]

    def _emit(self, receipt: Receipt) -> None:
        for hook in self._hooks:
            try:
                hook(receipt)
            except Exception:  # a broken hook must not turn a stored push into a 500
                logger.exception("receipt hook %r failed", hook)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


__all__ = [
    "DEFAULT_INBOX_URL",
    "JSON_HEADERS",
    "BodyReader",
    "PushReceiver",
    "PushRequest",
    "Receipt",
    "ReceiptHook",
    "ReceiverResponse",
]
