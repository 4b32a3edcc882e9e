"""Observability hooks: every attempt is described once, as an :class:`AttemptDetails`.

Hooks are plain callables, called once the attempt's result is committed. The default ones
(:func:`default_hooks`) log a human line with machine-readable fields under
``extra["faxpush"]`` (the fields of a JSON log line, see :mod:`faxpush._observe.logs`) and,
when OpenTelemetry is installed and set up, record a span per attempt. A hook that raises is
logged and otherwise ignored: observing a delivery must never break it.

Nothing here carries a secret: the URL is shown without user info, ``auth_steps`` name
steps ("digest challenge", "oauth2 token fetched"), never credentials or tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime

from faxpush._observe.tracing import SpanRecorder, span_recorder
from faxpush.core.outcome import Verdict

logger = logging.getLogger("faxpush.delivery")


@dataclass(frozen=True, slots=True)
class AttemptDetails:
    delivery_id: str
    job_id: str
    url: str  # without user info
    attempt: int
    http_status: int | None
    error_class: str | None
    error_message: str | None
    duration_ms: float
    verdict: Verdict
    reason: str
    next_attempt_at: datetime | None
    auth_steps: tuple[str, ...]
    auth_method: str  # the push's AuthMethod value: NONE, HTTP_BASIC, HTTP_DIGEST, OAUTH2
    started_at: datetime
    applied: bool = True  # False when the lease was lost and another worker owns the push


AttemptHook = Callable[[AttemptDetails], None]


_FIELDS = tuple(f.name for f in fields(AttemptDetails))


def log_attempt(details: AttemptDetails) -> None:
    """Default hook: one log line per attempt."""
    level = logging.INFO if details.verdict is not Verdict.FAILED else logging.WARNING
    if not logger.isEnabledFor(level):
        return
    answer = (
        f"HTTP {details.http_status}"
        if details.http_status is not None
        else f"{details.error_class}: {details.error_message}"
    )
    then = ""
    if details.verdict is Verdict.RETRY and details.next_attempt_at is not None:
        then = f", next attempt at {details.next_attempt_at.isoformat(timespec='seconds')}"
    stale = "" if details.applied else " (lease lost: result discarded)"
    logger.log(
        level,
        "%s push %s job %s attempt %d to %s: %s in %.0f ms%s%s",
        details.verdict.value,
        details.delivery_id,
        details.job_id,
        details.attempt,
        details.url,
        answer,
        details.duration_ms,
        then,
        stale,
        # A shallow dict: dataclasses.asdict copies deeply, at 30-60 us an attempt.
        extra={"faxpush": {name: getattr(details, name) for name in _FIELDS}},
    )


ATTEMPT_SPAN = "faxpush.push.attempt"


class TraceAttempt:
    """A hook that records each attempt as an OpenTelemetry span, with the attempt's own
    start and duration (it runs after the commit, so the span is written afterwards)."""

    def __init__(self, recorder: SpanRecorder) -> None:
        self._recorder = recorder

    def __call__(self, details: AttemptDetails) -> None:
        attributes: dict[str, str | int | float | bool] = {
            "faxpush.delivery_id": details.delivery_id,
            "faxpush.job_id": details.job_id,
            "faxpush.attempt": details.attempt,
            "faxpush.verdict": details.verdict.value,
            "faxpush.auth_method": details.auth_method,
            "faxpush.applied": details.applied,
            "url.full": details.url,
            "http.request.method": "POST",
        }
        if details.http_status is not None:
            attributes["http.response.status_code"] = details.http_status
        if details.error_class is not None:
            attributes["error.type"] = details.error_class
        failed = details.verdict is not Verdict.DELIVERED
        self._recorder.record(
            ATTEMPT_SPAN,
            started_at=details.started_at,
            duration_ms=details.duration_ms,
            attributes=attributes,
            error=(details.error_message or details.reason) if failed else None,
        )


def default_hooks() -> tuple[AttemptHook, ...]:
    """The log line, plus a span per attempt when OpenTelemetry is installed and a tracer
    provider is set (decided once here: without one, an attempt costs nothing more)."""
    recorder = span_recorder()
    if recorder is None:
        return (log_attempt,)
    return (log_attempt, TraceAttempt(recorder))


def call_hooks(hooks: tuple[AttemptHook, ...], details: AttemptDetails) -> None:
    for hook in hooks:
        try:
            hook(details)
        except Exception:
            logger.exception("attempt hook %r failed; delivery continues", hook)
