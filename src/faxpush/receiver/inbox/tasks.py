"""Handler tasks, written once for every inbox: what a claim takes, and what a finish records.

A :class:`Claim` is one ``claim_tasks`` call: it takes the tasks that are PENDING and due or
RUNNING past their lease, earliest due first, and leases them all under one fresh claim id
(the fencing token) until one lease end; each lease counts as an attempt. A :class:`Finish`
is the outcome of one claimed task's run: DONE when the handler returned, else PENDING again
at the retry time the runner chose from its schedule, or FAILED when the schedule is spent.
It applies only while the task still carries the claim id it was run under.
:class:`TaskCalls` makes the two inbox calls of these, once for every backend.

The memory inbox applies these rules to its records directly; the SQL inboxes bind the same
values (:meth:`Claim.params`, :meth:`Finish.params`) to their ``claim_due`` and ``finish_task``
queries, which state the same rules in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from faxpush.receiver.inbox.base import ClaimedTask, HandlerTask, TaskState

# How a backend stores a time (microseconds for SQLite, the datetime itself for PostgreSQL).
TimeParam = Callable[[datetime], Any]


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim of due tasks; use :meth:`start`."""

    claim_id: str
    now: datetime
    claimed_until: datetime
    limit: int
    key: str | None = None  # only this push's tasks

    @classmethod
    def start(
        cls, *, now: datetime, lease: timedelta, limit: int, key: str | None = None
    ) -> Claim | None:
        """A new claim, or None when ``limit`` asks for no task at all."""
        if limit <= 0:
            return None
        return cls(uuid.uuid4().hex, now, now + lease, limit, key)

    def takes(self, task: HandlerTask) -> bool:
        """Whether ``task`` is one this claim may lease."""
        if self.key is not None and task.key != self.key:
            return False
        if task.state is TaskState.PENDING:
            return task.next_attempt_at <= self.now
        return (
            task.state is TaskState.RUNNING
            and task.claimed_until is not None
            and task.claimed_until <= self.now
        )

    def lease(self, task: HandlerTask) -> HandlerTask:
        """``task`` as this claim leaves it."""
        return replace(
            task,
            state=TaskState.RUNNING,
            attempts=task.attempts + 1,
            claim_id=self.claim_id,
            claimed_until=self.claimed_until,
        )

    def claimed(self, leased: Iterable[HandlerTask]) -> list[ClaimedTask]:
        """The leased tasks, earliest due first, each with this claim's fencing token."""
        ordered = sorted(leased, key=lambda task: task.next_attempt_at)
        return [ClaimedTask(task, self.claim_id) for task in ordered]

    def params(self, time: TimeParam) -> dict[str, Any]:
        """The parameters of the ``claim_due`` and ``claimed_by`` queries."""
        return {
            "claim_id": self.claim_id,
            "claimed_until": time(self.claimed_until),
            "now": time(self.now),
            "key": self.key,
            "limit": self.limit,
        }


@dataclass(frozen=True, slots=True)
class Finish:
    """What finishing one claimed task records; use :meth:`of`."""

    key: str
    handler: str
    claim_id: str
    state: TaskState
    retry_at: datetime | None  # the new due time, when retried
    error: str | None
    done_at: datetime | None

    @classmethod
    def of(
        cls,
        claimed: ClaimedTask,
        *,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> Finish:
        """DONE when ``error`` is None; else PENDING at ``retry_at``, or FAILED without one."""
        task = claimed.task
        if error is None:
            return cls(task.key, task.handler, claimed.claim_id, TaskState.DONE, None, None, now)
        state = TaskState.FAILED if retry_at is None else TaskState.PENDING
        return cls(task.key, task.handler, claimed.claim_id, state, retry_at, error, None)

    def applies_to(self, current: HandlerTask | None) -> bool:
        """Whether the task, as it is now, still carries this finish's claim."""
        return current is not None and current.claim_id == self.claim_id

    def apply(self, current: HandlerTask) -> HandlerTask:
        """``current`` with this outcome recorded and its lease released."""
        return replace(
            current,
            state=self.state,
            next_attempt_at=current.next_attempt_at if self.retry_at is None else self.retry_at,
            last_error=self.error,
            claim_id=None,
            claimed_until=None,
            done_at=self.done_at,
        )

    def params(self, time: TimeParam) -> dict[str, Any]:
        """The parameters of the ``finish_task`` and ``finished_by`` queries."""
        return {
            "state": self.state.value,
            "retry_at": None if self.retry_at is None else time(self.retry_at),
            "error": self.error,
            "done_at": None if self.done_at is None else time(self.done_at),
            "key": self.key,
            "handler": self.handler,
            "claim_id": self.claim_id,
        }


class TaskCalls:
    """``claim_tasks`` and ``finish_task`` for every inbox, with the rules above; a backend
    provides only :meth:`_lease` and :meth:`_finish`."""

    async def claim_tasks(
        self, *, now: datetime, lease: timedelta, limit: int, key: str | None = None
    ) -> list[ClaimedTask]:
        """Lease due tasks, earliest due first."""
        claim = Claim.start(now=now, lease=lease, limit=limit, key=key)
        if claim is None:
            return []
        return claim.claimed(await self._lease(claim))

    async def finish_task(
        self,
        claimed: ClaimedTask,
        *,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Apply the outcome if the claim is still current."""
        return await self._finish(Finish.of(claimed, now=now, error=error, retry_at=retry_at))

    async def _lease(self, claim: Claim) -> Iterable[HandlerTask]:
        """Lease the tasks ``claim`` takes, at most ``claim.limit``; return them leased."""
        raise NotImplementedError  # provided by the backend

    async def _finish(self, finish: Finish) -> bool:
        """Record ``finish`` if the claim is still current; return whether it was."""
        raise NotImplementedError  # provided by the backend


def due_at(task: HandlerTask) -> datetime | None:
    """When ``task`` next needs a runner: its due time while PENDING, its lease end while
    RUNNING, never once DONE or FAILED."""
    if task.state is TaskState.PENDING:
        return task.next_attempt_at
    if task.state is TaskState.RUNNING:
        return task.claimed_until
    return None


def retried(task: HandlerTask, *, now: datetime) -> HandlerTask:
    """A FAILED task put back to PENDING by an operator, due ``now``."""
    return replace(task, state=TaskState.PENDING, next_attempt_at=now)


def task_filter(*, key: str | None, state: TaskState | None, limit: int) -> dict[str, Any]:
    """The parameters of the ``list_tasks`` query."""
    return {"key": key, "state": None if state is None else state.value, "limit": max(limit, 0)}


__all__ = ["Claim", "Finish", "TaskCalls", "TimeParam", "due_at", "retried", "task_filter"]
