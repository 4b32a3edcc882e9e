"""The calls the SQLite and the PostgreSQL inbox make the same way: each names a query and
binds its parameters; the dialect only runs it (:meth:`SqlInbox._rows`, :meth:`_value`,
:meth:`_changed`) and says how it stores a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from faxpush.receiver.inbox._rows import ReadTime, Row, entry_from_row, page, task_from_row
from faxpush.receiver.inbox.base import HandlerTask, InboxEntry, TaskState
from faxpush.receiver.inbox.tasks import TaskCalls, TimeParam, task_filter


class SqlInbox(TaskCalls):
    """Reading pushes and tasks, retrying failed tasks and purging, by named queries."""

    def __init__(self, time: TimeParam, read_time: ReadTime) -> None:
        self._time = time  # a datetime as the dialect stores it
        self._read_time = read_time  # a stored time as a datetime

    # --- what the dialect runs -----------------------------------------------------------
    async def _rows(self, action: str, name: str, params: dict[str, Any]) -> Sequence[Row]:
        """The rows of query ``name``."""
        raise NotImplementedError  # provided by the dialect

    async def _value(self, action: str, name: str, params: dict[str, Any]) -> Any:
        """The first value of query ``name``'s first row."""
        raise NotImplementedError  # provided by the dialect

    async def _changed(self, action: str, name: str, params: dict[str, Any]) -> int:
        """How many rows query ``name`` changed."""
        raise NotImplementedError  # provided by the dialect

    # --- reading ------------------------------------------------------------------------
    async def get(self, key: str) -> InboxEntry | None:
        """The push stored under ``key``."""
        rows = await self._rows(f"read push {key}", "get_entry", {"key": key})
        return entry_from_row(rows[0], self._read_time) if rows else None

    async def list_entries(self, *, limit: int = 100, offset: int = 0) -> list[InboxEntry]:
        """Newest first."""
        rows = await self._rows("list pushes", "list_entries", page(limit=limit, offset=offset))
        return [entry_from_row(row, self._read_time) for row in rows]

    async def count(self) -> int:
        """How many pushes are stored."""
        return int(await self._value("count pushes", "count_entries", {}))

    # --- handler tasks ------------------------------------------------------------------
    async def list_tasks(
        self, *, key: str | None = None, state: TaskState | None = None, limit: int = 1000
    ) -> list[HandlerTask]:
        """Tasks by push arrival, then handler name."""
        params = task_filter(key=key, state=state, limit=limit)
        rows = await self._rows("list handler tasks", "list_tasks", params)
        return [task_from_row(row, self._read_time) for row in rows]

    async def retry_failed(self, *, now: datetime, key: str | None = None) -> int:
        """FAILED tasks become PENDING, due now."""
        params = {"now": self._time(now), "key": key}
        return await self._changed("retry failed tasks", "retry_failed", params)

    async def next_task_due(self) -> datetime | None:
        """The earliest due time among PENDING tasks and RUNNING leases."""
        value = await self._value("read the next due task", "next_task_due", {})
        return None if value is None else self._read_time(value)

    async def purge(self, *, received_before: datetime) -> int:
        """Drop old pushes whose tasks are all DONE."""
        params = {"received_before": self._time(received_before)}
        return await self._changed("purge pushes", "purge", params)


__all__ = ["SqlInbox"]
