"""Handlers run once per stored push, after the commit, and are retried from the inbox."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faxpush.core.errors import ConfigurationError
from faxpush.core.retry import RetrySchedule
from faxpush.receiver.handlers import HandlerRunner, handler_name
from faxpush.receiver.inbox import InboxEntry, MemoryInbox, SqliteInbox, TaskState
from tests.receiver.test_inbox import push

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_sync_and_async_handlers_run_once_each() -> None:
    inbox = MemoryInbox()
    seen: list[tuple[str, str]] = []
    threads: list[str] = []

    def sync_handler(entry: InboxEntry) -> None:
        threads.append(threading.current_thread().name)
        seen.append(("sync", entry.job_id))

    async def async_handler(entry: InboxEntry) -> None:
        seen.append(("async", entry.job_id))

    runner = HandlerRunner(inbox, [sync_handler, async_handler], clock=Clock())
    created = await inbox.accept(push(), handlers=runner.names, now=T0)
    assert created.created
    assert await runner.run_due() == 2
    assert await runner.run_due() == 0
    assert sorted(seen) == [("async", "FJ7QK2M9X40ABCDEFGH123"), ("sync", "FJ7QK2M9X40ABCDEFGH123")]
    assert threads != [threading.current_thread().name]  # sync handlers run off the loop
    assert {t.state for t in await inbox.list_tasks()} == {TaskState.DONE}


async def test_a_failing_handler_is_retried_on_schedule_then_given_up() -> None:
    inbox = MemoryInbox()
    clock = Clock()
    calls: list[datetime] = []

    def flaky(entry: InboxEntry) -> None:
        calls.append(clock.now)
        raise RuntimeError("database down")

    schedule = RetrySchedule((0, 10, 60), jitter=0)
    runner = HandlerRunner(inbox, {"flaky": flaky}, schedule=schedule, clock=clock)
    await inbox.accept(push(), handlers=runner.names, now=T0)
    assert await runner.run_due() == 1
    (task,) = await inbox.list_tasks()
    assert (task.state, task.attempts, task.last_error) == (
        TaskState.PENDING,
        1,
        "RuntimeError: database down",
    )
    assert task.next_attempt_at == T0 + timedelta(seconds=10)
    clock.now = T0 + timedelta(seconds=9)
    assert await runner.run_due() == 0
    clock.now = T0 + timedelta(seconds=10)
    assert await runner.run_due() == 1
    clock.now += timedelta(seconds=60)
    assert await runner.run_due() == 1
    (task,) = await inbox.list_tasks()
    assert (task.state, task.attempts) == (TaskState.FAILED, 3)
    assert len(calls) == 3


async def test_handler_recovers_after_a_failure() -> None:
    inbox = MemoryInbox()
    clock = Clock()
    outcomes = iter([ValueError("once"), None])

    async def sometimes(entry: InboxEntry) -> None:
        problem = next(outcomes)
        if problem is not None:
            raise problem

    runner = HandlerRunner(
        inbox, {"h": sometimes}, schedule=RetrySchedule((0, 1), jitter=0), clock=clock
    )
    await inbox.accept(push(), handlers=runner.names, now=T0)
    await runner.run_due()
    clock.now += timedelta(seconds=1)
    await runner.run_due()
    (task,) = await inbox.list_tasks()
    assert (task.state, task.attempts, task.last_error) == (TaskState.DONE, 2, None)


async def test_unregistered_handler_task_stays_visible() -> None:
    inbox = MemoryInbox()
    await inbox.accept(push(), handlers=["gone.handler"], now=T0)
    runner = HandlerRunner(
        inbox, {"other": lambda e: None}, schedule=RetrySchedule((0,)), clock=Clock()
    )
    await runner.run_due()
    (task,) = await inbox.list_tasks()
    assert task.state is TaskState.FAILED
    assert task.last_error is not None
    assert "gone.handler" in task.last_error


async def test_notify_and_polling_pick_up_work_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    inbox = await SqliteInbox.open(path)
    await inbox.migrate()
    # A push stored by a process that died before its handler ran:
    await inbox.accept(push(), handlers=["tests.h"], now=datetime.now(UTC))
    await inbox.close()

    inbox = await SqliteInbox.open(path)
    done = asyncio.Event()
    seen: list[str] = []

    def handler(entry: InboxEntry) -> None:
        seen.append(entry.key)
        done.set()

    runner = HandlerRunner(inbox, {"tests.h": handler}, poll_interval=0.05)
    runner.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        await runner.stop()
        await inbox.close()
    assert seen == ["delivery:d1"]


async def test_stop_cancels_a_handler_that_hangs() -> None:
    inbox = MemoryInbox()
    started = asyncio.Event()

    async def hangs(entry: InboxEntry) -> None:
        started.set()
        await asyncio.sleep(60)

    runner = HandlerRunner(inbox, {"h": hangs}, clock=Clock())
    await inbox.accept(push(), handlers=runner.names, now=T0)
    runner.notify("delivery:d1")
    await asyncio.wait_for(started.wait(), timeout=5)
    await runner.stop(grace=0.05)
    (task,) = await inbox.list_tasks()
    assert task.state is TaskState.RUNNING  # its lease expires and it runs again later


def test_handler_names_and_duplicates() -> None:
    def h(entry: InboxEntry) -> None:
        return None

    assert handler_name(h).endswith("test_handler_names_and_duplicates.<locals>.h")
    with pytest.raises(ConfigurationError):
        HandlerRunner(MemoryInbox(), [h, h])
    with pytest.raises(ConfigurationError):
        HandlerRunner(MemoryInbox(), {"x": 42})  # type: ignore[arg-type]
