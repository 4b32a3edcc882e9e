"""The operator API's JSON: pushes, attempts and receivers as the API shows them, query
filters and the opaque page cursor.

Credentials never leave the store through here: a push's target shows its URL without user
info, its auth method and principal, and only whether credentials are set.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from faxpush.admin.errors import bad_request
from faxpush.core.urls import display_url
from faxpush.storage.base import AttemptRecord, PushRecord, PushState, receiver_key
from faxpush.storage.operator import PageCursor, PushFilter, ReceiverStats

DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 500
BODY_EXCERPT_BYTES: Final = 4096


def timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


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


def receiver_view(row: ReceiverStats, now: datetime) -> dict[str, Any]:
    oldest = row.oldest_pending_at
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
        "oldestPendingAgeSeconds": None
        if oldest is None
        else round(max((now - oldest).total_seconds(), 0.0), 3),
        "consecutiveFailures": row.consecutive_failures,
        "lastError": row.last_error,
        "lastErrorAt": timestamp(row.last_error_at),
        "lastAttemptAt": timestamp(row.last_attempt_at),
    }


def encode_cursor(push: PushRecord) -> str:
    raw = json.dumps([push.created_at.isoformat(), push.delivery_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> PageCursor:
    refused = bad_request(
        "not a cursor this API gave; pass nextCursor from a previous page", "cursor"
    )
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created, delivery_id = json.loads(raw)
        created_at = datetime.fromisoformat(created)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise refused from None
    if not isinstance(delivery_id, str) or created_at.tzinfo is None:
        raise refused
    return PageCursor(created_at=created_at, delivery_id=delivery_id)


def parse_time(text: str, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad_request("expected an ISO 8601 time such as 2026-01-31T12:00:00Z", field) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _text(value: object, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad_request("must be a string", field)
    return value


def push_filter(params: Mapping[str, Any]) -> PushFilter:
    """A filter from query parameters or a JSON object: ``state``, ``jobId``, ``receiver``
    (an origin such as ``https://host`` or ``https://host:8443``), ``since``."""
    state = None
    if (raw_state := _text(params.get("state"), "state")) is not None:
        try:
            state = PushState(raw_state.lower())
        except ValueError:
            names = ", ".join(s.value for s in PushState)
            raise bad_request(f"must be one of {names}", "state") from None
    receiver = None
    if (raw_receiver := _text(params.get("receiver"), "receiver")) is not None:
        if "://" not in raw_receiver:
            raise bad_request("must be an origin such as https://hooks.example.org", "receiver")
        receiver = receiver_key(raw_receiver)
    since = None
    if (raw_since := params.get("since")) is not None:
        if not isinstance(raw_since, str):
            raise bad_request("must be a string", "since")
        since = parse_time(raw_since, "since")
    return PushFilter(
        state=state, job_id=_text(params.get("jobId"), "jobId"), receiver=receiver, since=since
    )


def page_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise bad_request(f"must be a whole number from 1 to {MAX_PAGE}", "limit")
    return int(raw)


__all__ = [
    "attempt_view",
    "decode_cursor",
    "encode_cursor",
    "page_limit",
    "push_filter",
    "push_view",
    "receiver_view",
    "timestamp",
]
