"""Turn what one HTTP attempt produced into the attempt row, the verdict and the hook record."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from faxpush.core.outcome import ErrorClass, Verdict, classify
from faxpush.core.retry import RetrySchedule, next_attempt_at
from faxpush.core.urls import display_url
from faxpush.delivery.hooks import AttemptDetails
from faxpush.storage.base import AttemptRecord, AttemptResult, ClaimedPush, receiver_key


class SendOutcome(Protocol):
    """What one HTTP attempt produced (see :class:`faxpush.delivery.send.SendResult`)."""

    @property
    def http_status(self) -> int | None: ...
    @property
    def error_class(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def response_headers(self) -> Mapping[str, str]: ...
    @property
    def response_body(self) -> bytes: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def auth_steps(self) -> tuple[str, ...]: ...
    @property
    def retry_after(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class InternalFailure:
    """Stands in for a send that raised, recorded as a retryable internal error; or, with
    another ``error_class``, for a send that could not start (see :func:`not_sent`)."""

    error_message: str
    duration_ms: float
    http_status: int | None = None
    error_class: str | None = "internal"
    retry_after: str | None = None
    auth_steps: tuple[str, ...] = ()
    response_body: bytes = b""

    @property
    def response_headers(self) -> Mapping[str, str]:
        return {}


def not_sent(reason: str) -> InternalFailure:
    """The outcome of a push that was not sent because its stored credentials cannot be
    opened: an ``auth`` failure, final, whose message gives the reason and the fix."""
    return InternalFailure(reason, 0.0, error_class=ErrorClass.AUTH.value)


def judge_attempt(
    claim: ClaimedPush,
    sent: SendOutcome,
    *,
    started: datetime,
    now: datetime,
    schedule: RetrySchedule,
    rng: Callable[[], float] = random.random,
) -> tuple[AttemptResult, AttemptDetails]:
    """Classify ``sent`` and, for a retry, pick the next attempt time from ``schedule``."""
    push = claim.push
    number = push.attempts + 1
    outcome = classify(
        http_status=sent.http_status,
        error_class=sent.error_class,
        retry_client_errors=push.retry_client_errors,
    )
    verdict, reason, when = outcome.verdict, outcome.reason, None
    if verdict is Verdict.RETRY:
        when = next_attempt_at(
            schedule,
            attempts_made=number,
            now=now,
            retry_after=sent.retry_after,
            max_attempts=push.max_attempts,
            rng=rng,
        )
        if when is None:
            verdict, reason = Verdict.FAILED, f"gave up after {number} attempts: {reason}"
    error = None
    if verdict is not Verdict.DELIVERED:
        error = f"{reason}: {sent.error_message}" if sent.error_message else reason
    http_status, error_class, message = sent.http_status, sent.error_class, sent.error_message
    duration_ms, auth_steps = sent.duration_ms, tuple(sent.auth_steps)
    # Positional, in field order: three records per attempt, thousands of attempts a second.
    attempt = AttemptRecord(
        push.delivery_id,
        number,
        started,
        duration_ms,
        http_status,
        error_class,
        message,
        sent.response_headers,  # a fresh dict per send; the records never change it
        sent.response_body,
        auth_steps,
    )
    receiver = receiver_key(push.target.url)
    result = AttemptResult(
        push.delivery_id, claim.claim_id, attempt, verdict, when, error, receiver
    )
    details = AttemptDetails(
        push.delivery_id,
        push.job_id,
        display_url(push.target.url),
        number,
        http_status,
        error_class,
        message,
        duration_ms,
        verdict,
        reason,
        when,
        auth_steps,
        push.target.auth_method.value,
        started,
    )
    return result, details
