"""Duplicate jobs: what the API answers with 409 instead of sending a fax twice.

A job is a duplicate when, within ``duplicate_window_seconds`` (default 10 minutes), the same
login of the same customer number already submitted a job with the same
``reference.customerDefinedId`` and the same content (every field of the validated request,
documents included). Jobs without a ``customerDefinedId`` are never duplicates: a client
that wants protection against its own retries sets one. A window of 0 turns the check off.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from faxpush.emulator.validation import FaxJobRequest


def dedup_key(request: FaxJobRequest, *, customer_number: str, login: str) -> str | None:
    """The key two duplicate jobs share, or None when the job cannot be a duplicate."""
    reference = request.reference
    if reference is None or reference.customerDefinedId is None:
        return None
    digest = hashlib.sha256()
    for part in (customer_number, login, reference.customerDefinedId):
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    digest.update(request.model_dump_json().encode("utf-8"))
    return digest.hexdigest()


def duplicate_since(now: datetime, window_seconds: float) -> datetime | None:
    """The oldest creation time that still counts, or None when the check is off."""
    if window_seconds <= 0:
        return None
    return now - timedelta(seconds=window_seconds)
