"""Inbox rows, read and written the same way by the SQLite and the PostgreSQL inbox.

The two dialects differ only in how they store a time (a ``TimeParam`` function writes one,
a ``read_time`` function reads it): SQLite keeps integer microseconds, PostgreSQL a
``timestamptz`` that the driver already returns as a datetime.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.receiver.inbox.base import HandlerTask, InboxEntry, IncomingPush, TaskState
from faxpush.receiver.parse import parse

ReadTime = Callable[[Any], datetime]  # a stored, non-NULL time as a datetime


class Row(Protocol):
    """A result row by column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: str, /) -> Any: ...


def entry_params(push: IncomingPush, now: Any) -> dict[str, Any]:
    """The parameters that store ``push`` as a new entry received at ``now`` (as stored)."""
    return {
        "key": push.key,
        "job_id": push.report.jobId,
        "delivery_id": push.delivery_id,
        "content_type": push.content_type,
        "body": push.body,
        # A default layout is parsed again when read: storing the body alone is cheaper.
        "report": None if push.default_layout else push.report.model_dump_json(),
        "auth_method": push.auth_method.value,
        "principal": push.principal,
        "now": now,
    }


def page(*, limit: int, offset: int) -> dict[str, int]:
    """The parameters of the ``list_entries`` query (negative numbers count as 0)."""
    return {"limit": max(limit, 0), "offset": max(offset, 0)}


def entry_from_row(row: Row, read_time: ReadTime) -> InboxEntry:
    body = bytes(row["body"])
    if row["report"] is None:
        report = parse(body, row["content_type"])
    else:
        report = FaxJobReport.model_validate_json(row["report"])
    return InboxEntry(
        key=row["key"],
        content_type=row["content_type"],
        body=body,
        report=report,
        auth_method=AuthMethod(row["auth_method"]),
        principal=row["principal"],
        delivery_id=row["delivery_id"],
        received_at=read_time(row["received_at"]),
        last_received_at=read_time(row["last_received_at"]),
        times_received=row["times_received"],
    )


def task_from_row(row: Row, read_time: ReadTime) -> HandlerTask:
    def optional(value: Any) -> datetime | None:
        return None if value is None else read_time(value)

    return HandlerTask(
        key=row["entry_key"],
        handler=row["handler"],
        state=TaskState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=read_time(row["next_attempt_at"]),
        last_error=row["last_error"],
        claim_id=row["claim_id"],
        claimed_until=optional(row["claimed_until"]),
        done_at=optional(row["done_at"]),
    )


__all__ = ["ReadTime", "Row", "entry_from_row", "entry_params", "page", "task_from_row"]
