"""SQL files and row conversion for the SQLite inbox (SQL lives in ``receiver/sql/inbox/``)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final

from faxpush.core.errors import StorageError
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.receiver.inbox.base import HandlerTask, InboxEntry, TaskState
from faxpush.receiver.parse import parse

_QUERY_HEADER: Final = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION_NAME: Final = re.compile(r"(\d{4})_(\w+)\.sql")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def sql_directory() -> resources.abc.Traversable:
    return resources.files("faxpush.receiver").joinpath("sql").joinpath("inbox")


@cache
def queries() -> Mapping[str, str]:
    text = sql_directory().joinpath("queries.sql").read_text(encoding="utf-8")
    parts = _QUERY_HEADER.split(text)
    return MappingProxyType(
        {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    )


@cache
def migrations() -> tuple[tuple[int, str, str], ...]:
    found = []
    for entry in sql_directory().iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is not None:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


def statements(script: str) -> list[str]:
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements


def micros(value: datetime) -> int:
    if value.tzinfo is None:
        raise StorageError("inbox times must be timezone-aware")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def time_of(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def entry_from_row(row: sqlite3.Row) -> InboxEntry:
    received = time_of(row["received_at"])
    last = time_of(row["last_received_at"])
    assert received is not None
    assert last is not None
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
        received_at=received,
        last_received_at=last,
        times_received=row["times_received"],
    )


def task_from_row(row: sqlite3.Row) -> HandlerTask:
    due = time_of(row["next_attempt_at"])
    assert due is not None
    return HandlerTask(
        key=row["entry_key"],
        handler=row["handler"],
        state=TaskState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=due,
        last_error=row["last_error"],
        claim_id=row["claim_id"],
        claimed_until=time_of(row["claimed_until"]),
        done_at=time_of(row["done_at"]),
    )
