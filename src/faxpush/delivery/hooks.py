"""Observability hooks: every attempt is described once, as an :class:`AttemptDetails`.

Hooks are plain callables; the default one logs a human line with machine-readable fields
under ``extra["faxpush"]``. A hook that raises is logged and otherwise ignored: observing a
delivery must never break it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

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
    applied: bool = True  # False when the lease was lost and another worker owns the push


AttemptHook = Callable[[AttemptDetails], None]


def log_attempt(details: AttemptDetails) -> None:
    """Default hook: one log line per attempt."""
    answer = (
        f"HTTP {details.http_status}"
        if details.http_status is not None
        else f"{details.error_class}: {details.error_message}"
    )
    then = ""
    if details.verdict is Verdict.RETRY and details.next_attempt_at is not None:
        then = f", next attempt at {details.next_attempt_at.isoformat(timespec='seconds')}"
    stale = "" if details.applied else " (lease lost: result discarded)"
    level = logging.INFO if details.verdict is not Verdict.FAILED else logging.WARNING
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
        extra={"faxpush": asdict(details)},
    )


def call_hooks(hooks: tuple[AttemptHook, ...], details: AttemptDetails) -> None:
    for hook in hooks:
        try:
            hook(details)
        except Exception:
            logger.exception("attempt hook %r failed; delivery continues", hook)
