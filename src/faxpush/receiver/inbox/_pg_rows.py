"""SQL files and row conversion for the PostgreSQL inbox (SQL lives in
``receiver/sql/inbox_postgresql/``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import asyncpg

from faxpush.core.errors import StorageError
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.receiver.inbox.base import HandlerTask, InboxEntry, TaskState
from faxpush.receiver.parse import parse
from faxpush.storage._pg_sql import Query, compile_query

_QUERY_HEADER: Final = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION_NAME: Final = re.compile(r"(\d{4})_(\w+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    script: str


def _directory() -> resources.abc.Traversable:
    return resources.files("faxpush.receiver").joinpath("sql", "inbox_postgresql")


@cache
def _queries() -> Mapping[str, str]:
    text = _directory().joinpath("queries.sql").read_text(encoding="utf-8")
    parts = _QUERY_HEADER.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def migrations() -> tuple[Migration, ...]:
    """The inbox migrations, by version."""
    found = []
    for entry in _directory().iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is not None:
            script = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), script))
    found.sort(key=lambda migration: migration.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)) or not found:
        raise StorageError("the PostgreSQL inbox migrations are incomplete; reinstall faxpush")
    return tuple(found)


@cache
def _compiled(name: str) -> Query:
    try:
        text = _queries()[name]
    except KeyError:
        raise StorageError(f"no PostgreSQL inbox query named {name!r}; this is a bug") from None
    return compile_query(name, text)


def sql(name: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """The named query followed by its positional arguments: ``conn.fetch(*sql(...))``."""
    compiled = _compiled(name)
    return [compiled.text, *compiled.args(params or {})]


def checked(value: datetime) -> datetime:
    """``value``, refused when it is naive (every inbox time is timezone-aware)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StorageError("inbox times must be timezone-aware")
    return value


def entry_from_row(row: asyncpg.Record) -> InboxEntry:
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
        received_at=row["received_at"],
        last_received_at=row["last_received_at"],
        times_received=row["times_received"],
    )


def task_from_row(row: asyncpg.Record) -> HandlerTask:
    return HandlerTask(
        key=row["entry_key"],
        handler=row["handler"],
        state=TaskState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        claim_id=row["claim_id"],
        claimed_until=row["claimed_until"],
        done_at=row["done_at"],
    )
