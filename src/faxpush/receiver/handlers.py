"""Running the customer's handlers on stored pushes: after the commit, once each, retried.

A handler is a plain callable taking an :class:`~faxpush.receiver.inbox.base.InboxEntry`,
sync (run in a worker thread, so it may block) or async. Each handler has a task row per
push; :class:`HandlerRunner` claims due tasks with a lease, runs them, and records the
outcome. A handler that raises is retried on the receiver's own schedule from the inbox
(never by asking the sender to push again); past the schedule the task is FAILED until an
operator retries it. After a restart, whatever was left PENDING or had its lease expire is
picked up by the polling loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Final

from faxpush.core.clock import Clock, utcnow
from faxpush.core.errors import ConfigurationError, FaxpushError
from faxpush.core.retry import RetrySchedule, next_attempt_at
from faxpush.receiver.inbox.base import ClaimedTask, InboxEntry, InboxStore

Handler = Callable[[InboxEntry], Awaitable[None] | None]

DEFAULT_HANDLER_SCHEDULE: Final = RetrySchedule(
    (0, 5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600), jitter=0.1
)
MAX_ERROR_TEXT: Final = 2000

logger = logging.getLogger("faxpush.receiver.handlers")


def handler_name(handler: Handler) -> str:
    """``module.qualname`` of a function (or of a callable object's class)."""
    target = handler if inspect.isroutine(handler) else type(handler)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"


class HandlerRunner:
    """Runs handler tasks from ``inbox``: immediately when notified, and by polling."""

    def __init__(
        self,
        inbox: InboxStore,
        handlers: Mapping[str, Handler] | Iterable[Handler] = (),
        *,
        schedule: RetrySchedule = DEFAULT_HANDLER_SCHEDULE,
        lease: timedelta = timedelta(minutes=5),
        poll_interval: float = 1.0,
        max_concurrency: int = 16,
        clock: Clock = utcnow,
    ) -> None:
        if isinstance(handlers, Mapping):
            named = dict(handlers)
        else:
            named = {}
            for handler in handlers:
                name = handler_name(handler)
                if name in named:
                    raise ConfigurationError(
                        f"two handlers are both named {name!r}; pass a mapping of unique names"
                    )
                named[name] = handler
        for name, handler in named.items():
            if not callable(handler):
                raise ConfigurationError(f"handler {name!r} is not callable")
        self._inbox = inbox
        self._handlers = named
        self._names = tuple(named)
        self._schedule = schedule
        self._lease = lease
        self._poll_interval = poll_interval
        self._slots = asyncio.Semaphore(max_concurrency)
        self._clock = clock
        self._poller: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    @property
    def names(self) -> tuple[str, ...]:
        """The registered handler names, which become task rows for each new push."""
        return self._names

    def start(self) -> None:
        """Start polling for due tasks (call from the event loop)."""
        if self._handlers and self._poller is None:
            self._poller = asyncio.create_task(self._poll())

    async def stop(self, grace: float = 5.0) -> None:
        """Stop polling and wait up to ``grace`` seconds for running handlers; those still
        running are cancelled and their tasks picked up again after their lease."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._running:
            _done, pending = await asyncio.wait(set(self._running), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def notify(self, key: str) -> None:
        """Run ``key``'s tasks now (a push was just stored)."""
        if self._handlers:
            self._spawn(self.run_due(key=key))

    def _spawn(self, work: Awaitable[int]) -> None:
        async def wrapped() -> None:
            await work

        task = asyncio.create_task(wrapped())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _poll(self) -> None:
        while True:
            try:
                await self.run_due()
            except FaxpushError as exc:
                logger.warning("handler poll failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
            self._wake.clear()

    async def run_due(self, *, key: str | None = None, limit: int = 100) -> int:
        """Claim and run due tasks (of ``key`` only, when given); returns how many ran."""
        claimed = await self._inbox.claim_tasks(
            now=self._clock(), lease=self._lease, limit=limit, key=key
        )
        if claimed:
            await asyncio.gather(*(self._run_one(c) for c in claimed))
        return len(claimed)

    async def _run_one(self, claimed: ClaimedTask) -> None:
        task = claimed.task
        async with self._slots:
            error = await self._call(task.key, task.handler)
        now = self._clock()
        retry_at = None
        if error is not None:
            retry_at = next_attempt_at(self._schedule, attempts_made=task.attempts, now=now)
            logger.warning(
                "handler %s failed on push %s (attempt %d): %s; %s",
                task.handler,
                task.key,
                task.attempts,
                error,
                "retrying" if retry_at is not None else "giving up",
                extra={"push_key": task.key, "handler": task.handler},
            )
        try:
            await self._inbox.finish_task(claimed, now=now, error=error, retry_at=retry_at)
        except FaxpushError as exc:  # the lease expires and the task runs again
            logger.warning("cannot record handler outcome for %s: %s", task.key, exc)

    async def _call(self, key: str, name: str) -> str | None:
        """Run one handler on one push; the error text, or None on success."""
        handler = self._handlers.get(name)
        if handler is None:
            return f"no handler named {name!r} is registered in this receiver"
        entry = await self._inbox.get(key)
        if entry is None:
            return f"push {key} is no longer in the inbox"
        try:
            if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
                getattr(handler, "__call__", None)  # noqa: B004 - async callable objects
            ):
                await handler(entry)
            else:
                result = await asyncio.to_thread(handler, entry)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:  # noqa: BLE001 - a handler's failure is recorded, not raised
            text = f"{type(exc).__name__}: {exc}"
            return text[:MAX_ERROR_TEXT]
        return None


__all__ = ["DEFAULT_HANDLER_SCHEDULE", "Handler", "HandlerRunner", "handler_name"]
