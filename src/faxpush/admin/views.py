"""The operator API's JSON: query filters and the opaque page cursor; the pushes, attempts
and receivers it shows are in :mod:`faxpush.storage.json_views`, shared with the CLI's
``--json``, and re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from faxpush.admin.errors import bad_request
from faxpush.storage.base import PushState, receiver_key
from faxpush.storage.json_views import (
    attempt_view,
    cursor_from_text,
    encode_cursor,
    push_detail_view,
    push_view,
    receiver_view,
    timestamp,
)
from faxpush.storage.operator import PageCursor, PushFilter

DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 500


def decode_cursor(text: str) -> PageCursor:
    """The ``cursor`` parameter's page cursor; a 400 for one this API did not give."""
    cursor = cursor_from_text(text)
    if cursor is None:
        raise bad_request(
            "not a cursor this API gave; pass nextCursor from a previous page", "cursor"
        )
    return cursor


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
    "push_detail_view",
    "push_filter",
    "push_view",
    "receiver_view",
    "timestamp",
]
