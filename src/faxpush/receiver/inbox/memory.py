"""An in-process inbox: everything is lost when the process ends.

For tests and ``faxpush listen --inbox memory://``. Every method runs without awaiting in
the middle, so on one event loop each call is atomic, like a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from faxpush.core.errors import StorageError
from faxpush.receiver.inbox.base import (
    Accepted,
    HandlerTask,
    InboxEntry,
    IncomingPush,
    TaskState,
)
from faxpush.receiver.inbox.tasks import Claim, Finish, TaskCalls, due_at, retried


class MemoryInbox(TaskCalls):
    """An :class:`~faxpush.receiver.inbox.base.InboxStore` in dictionaries."""

    def __init__(self) -> None:
        self._entries: dict[str, InboxEntry] = {}  # in arrival order
        self._tasks: dict[tuple[str, str], HandlerTask] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryInbox({len(self._entries)} pushes)"

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the in-memory inbox is closed")

    async def migrate(self) -> None:
        """Nothing to create."""
        self._check_open()

    async def close(self) -> None:
        """Refuse further use."""
        self._closed = True

    async def accept(
        self, push: IncomingPush, *, handlers: Sequence[str], now: datetime
    ) -> Accepted:
        """Store the push and its tasks, or count a duplicate."""
        self._check_open()
        known = self._entries.get(push.key)
        if known is not None:
            updated = replace(known, times_received=known.times_received + 1, last_received_at=now)
            self._entries[push.key] = updated
            return Accepted(push.key, False, updated.times_received)
        self._entries[push.key] = InboxEntry(
            key=push.key,
            content_type=push.content_type,
            body=push.body,
            report=push.report,
            auth_method=push.auth_method,
            principal=push.principal,
            delivery_id=push.delivery_id,
            received_at=now,
            last_received_at=now,
            times_received=1,
        )
        for handler in dict.fromkeys(handlers):
            self._tasks[(push.key, handler)] = HandlerTask(
                push.key, handler, TaskState.PENDING, 0, now
            )
        return Accepted(push.key, True, 1)

    async def get(self, key: str) -> InboxEntry | None:
        """The push stored under ``key``."""
        self._check_open()
        return self._entries.get(key)

    async def list_entries(self, *, limit: int = 100, offset: int = 0) -> list[InboxEntry]:
        """Newest first."""
        self._check_open()
        newest = list(reversed(self._entries.values()))
        return newest[offset : offset + max(limit, 0)]

    async def count(self) -> int:
        """How many pushes are stored."""
        self._check_open()
        return len(self._entries)

    def _ordered_tasks(self) -> list[HandlerTask]:
        order = {key: index for index, key in enumerate(self._entries)}
        return sorted(self._tasks.values(), key=lambda t: (order.get(t.key, -1), t.handler))

    async def _lease(self, claim: Claim) -> list[HandlerTask]:
        self._check_open()
        due = sorted(filter(claim.takes, self._tasks.values()), key=lambda t: t.next_attempt_at)
        leased = [claim.lease(task) for task in due[: claim.limit]]
        for task in leased:
            self._tasks[(task.key, task.handler)] = task
        return leased

    async def _finish(self, finish: Finish) -> bool:
        self._check_open()
        ident = (finish.key, finish.handler)
        current = self._tasks.get(ident)
        if current is None or not finish.applies_to(current):
            return False
        self._tasks[ident] = finish.apply(current)
        return True

    async def list_tasks(
        self, *, key: str | None = None, state: TaskState | None = None, limit: int = 1000
    ) -> list[HandlerTask]:
        """Tasks by push arrival, then handler name."""
        self._check_open()
        found = [
            t
            for t in self._ordered_tasks()
            if (key is None or t.key == key) and (state is None or t.state is state)
        ]
        return found[: max(limit, 0)]

    async def retry_failed(self, *, now: datetime, key: str | None = None) -> int:
        """FAILED tasks become PENDING, due now."""
        self._check_open()
        count = 0
        for ident, task in list(self._tasks.items()):
            if task.state is TaskState.FAILED and (key is None or task.key == key):
                self._tasks[ident] = retried(task, now=now)
                count += 1
        return count

    async def next_task_due(self) -> datetime | None:
        """The earliest due time among PENDING tasks and RUNNING leases."""
        self._check_open()
        times = (due_at(task) for task in self._tasks.values())
        return min((time for time in times if time is not None), default=None)

    async def purge(self, *, received_before: datetime) -> int:
        """Drop old pushes whose tasks are all DONE."""
        self._check_open()
        open_keys = {t.key for t in self._tasks.values() if t.state is not TaskState.DONE}
        doomed = [
            key
            for key, entry in self._entries.items()
            if entry.received_at < received_before and key not in open_keys
        ]
        for key in doomed:
            del self._entries[key]
        for ident in [ident for ident in self._tasks if ident[0] in set(doomed)]:
            del self._tasks[ident]
        return len(doomed)


__all__ = ["MemoryInbox"]
