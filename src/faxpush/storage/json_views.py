"""The JSON shapes of pushes, attempts and receivers, written once for every place that
shows them: the operator API (:mod:`faxpush.admin.views`) and the CLI's ``--json``; and the
push filter and page cursor read back from query parameters (the API and the console).

A script that reads ``faxpush pushes show --json`` can read ``GET /api/v1/pushes/{id}`` the
same way. Credentials never leave the store through here: a push's target shows its URL
without user info, its auth method and principal, and only whether credentials are set.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from faxpush.core.errors import InputError
from faxpush.core.urls import display_url
from faxpush.storage.base import AttemptRecord, PushRecord, PushState, receiver_key
from faxpush.storage.operator import PageCursor, PushFilter, ReceiverStats

API_PREFIX: Final = "/api/v1"
BODY_EXCERPT_BYTES: Final = 4096


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def encode_cursor(push: PushRecord) -> str:
    """The opaque cursor of the page that ends at ``push`` (the operator API's
    ``nextCursor``, the console's page links)."""
    raw = json.dumps([push.created_at.isoformat(), push.delivery_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_from_text(text: str) -> PageCursor | None:
    """The page cursor :func:`encode_cursor` gave as ``text``; None for any other text (the
    caller says so in its own error)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created, delivery_id = json.loads(raw)
        created_at = datetime.fromisoformat(created)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(delivery_id, str) or created_at.tzinfo is None:
        return None
    return PageCursor(created_at=created_at, delivery_id=delivery_id)


class FilterError(InputError):
    """A value of a push filter is wrong: ``field`` names it, ``problem`` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem


def _filter_text(params: Mapping[str, Any], field: str) -> str | None:
    value = params.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FilterError(field, "must be a string")
    return value.strip() or None


def push_filter(params: Mapping[str, Any]) -> PushFilter:
    """A push filter from query parameters, a form or a JSON object (the operator API's
    names): ``state``, ``jobId``, ``receiver`` (an origin such as ``https://host:8443``),
    ``since``. An empty value filters nothing, except an empty ``since``, which is refused
    like any other value that is not a time; a wrong value raises :class:`FilterError`."""
    state = None
    if (raw_state := _filter_text(params, "state")) is not None:
        try:
            state = PushState(raw_state.lower())
        except ValueError:
            names = ", ".join(s.value for s in PushState)
            raise FilterError("state", f"must be one of {names}") from None
    receiver = None
    if (raw_receiver := _filter_text(params, "receiver")) is not None:
        if "://" not in raw_receiver:
            raise FilterError("receiver", "must be an origin such as https://hooks.example.org")
        receiver = receiver_key(raw_receiver)
    since = None
    if (raw_since := params.get("since")) is not None:  # given but empty: refused
        if not isinstance(raw_since, str):
            raise FilterError("since", "must be a string")
        try:
            since = datetime.fromisoformat(raw_since.strip().replace("Z", "+00:00"))
        except ValueError:
            raise FilterError("since", "must be a time such as 2026-01-31T12:00:00Z") from None
        since = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    job_id = _filter_text(params, "jobId")
    return PushFilter(state=state, job_id=job_id, receiver=receiver, since=since)


def push_location(delivery_id: str, root_path: str = "") -> str:
    """Where the operator API serves a push."""
    return f"{root_path}{API_PREFIX}/pushes/{delivery_id}"


def push_view(push: PushRecord, location: str, *, with_body: bool = False) -> dict[str, Any]:
    target = push.target
    view: dict[str, Any] = {
        "deliveryId": push.delivery_id,
        "jobId": push.job_id,
        "customerNumber": push.customer_number,
        "state": push.state.value,
        "attempts": push.attempts,
        "maxAttempts": push.max_attempts,
        "receiver": receiver_key(target.url),
        "target": {
            "url": display_url(target.url),
            "authMethod": target.auth_method.value,
            "principal": target.principal,
            "hasCredentials": target.credentials is not None,
        },
        "contentType": push.content_type,
        "bodyBytes": len(push.body),
        "nextAttemptAt": timestamp(push.next_attempt_at),
        "createdAt": timestamp(push.created_at),
        "updatedAt": timestamp(push.updated_at),
        "lastError": push.last_error,
        "location": location,
    }
    if with_body:
        view["body"] = push.body.decode("utf-8", errors="replace")
    return view


def push_detail_view(
    push: PushRecord, attempts: list[AttemptRecord], location: str
) -> dict[str, Any]:
    """One push with its body and every attempt (``GET /api/v1/pushes/{id}``)."""
    view = push_view(push, location, with_body=True)
    view["attemptList"] = [attempt_view(a) for a in attempts]
    return view


def attempt_view(attempt: AttemptRecord) -> dict[str, Any]:
    excerpt = attempt.response_body[:BODY_EXCERPT_BYTES]
    return {
        "deliveryId": attempt.delivery_id,
        "number": attempt.number,
        "startedAt": timestamp(attempt.started_at),
        "durationMs": round(attempt.duration_ms, 3),
        "httpStatus": attempt.http_status,
        "errorClass": attempt.error_class,
        "error": attempt.error_message,
        "responseHeaders": dict(attempt.response_headers),
        "responseBody": excerpt.decode("utf-8", errors="replace"),
        "responseBodyTruncated": len(attempt.response_body) > len(excerpt),
        "authSteps": list(attempt.auth_steps),
    }


def _ratio(successes: int, attempts: int) -> float | None:
    return round(successes / attempts, 4) if attempts else None


def oldest_pending_age(row: ReceiverStats, now: datetime) -> float | None:
    """Seconds since the oldest pending push of the receiver was created, or None."""
    oldest = row.oldest_pending_at
    return None if oldest is None else round(max((now - oldest).total_seconds(), 0.0), 3)


def receiver_view(row: ReceiverStats, now: datetime) -> dict[str, Any]:
    return {
        "receiver": row.receiver,
        "lastHour": {
            "attempts": row.attempts_hour,
            "successes": row.successes_hour,
            "successRate": _ratio(row.successes_hour, row.attempts_hour),
            "durationP50Ms": row.duration_p50_ms,
            "durationP99Ms": row.duration_p99_ms,
        },
        "lastDay": {
            "attempts": row.attempts_day,
            "successes": row.successes_day,
            "successRate": _ratio(row.successes_day, row.attempts_day),
        },
        "pending": row.pending,
        "oldestPendingAgeSeconds": oldest_pending_age(row, now),
        "consecutiveFailures": row.consecutive_failures,
        "lastError": row.last_error,
        "lastErrorAt": timestamp(row.last_error_at),
        "lastAttemptAt": timestamp(row.last_attempt_at),
    }


__all__ = [
    "API_PREFIX",
    "BODY_EXCERPT_BYTES",
    "FilterError",
    "attempt_view",
    "cursor_from_text",
    "encode_cursor",
    "oldest_pending_age",
    "push_detail_view",
    "push_filter",
    "push_location",
    "push_view",
    "receiver_view",
    "timestamp",
]
