"""The operator API's JSON: query filters and the opaque page cursor; the pushes, attempts
and receivers it shows are in :mod:`faxpush.storage.json_views`, shared with the CLI's
``--json``, and re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from faxpush.admin.errors import bad_request
from faxpush.storage.json_views import (
    FilterError,
    attempt_view,
    cursor_from_text,
    encode_cursor,
    push_detail_view,
    push_view,
    receiver_view,
    timestamp,
)
from faxpush.storage.json_views import push_filter as shared_push_filter
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


def push_filter(params: Mapping[str, Any]) -> PushFilter:
    """A filter from query parameters or a JSON object (see
    :func:`faxpush.storage.json_views.push_filter`); a 400 naming the field."""
    try:
        return shared_push_filter(params)
    except FilterError as exc:
        raise bad_request(exc.problem, exc.field) from None


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
