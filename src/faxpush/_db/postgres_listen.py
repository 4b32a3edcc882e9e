"""``LISTEN`` on one dedicated connection: wake-ups for idle workers, never a guarantee.

A background task keeps one connection listening on the channel, reconnecting with backoff
when it is lost and checking it with a ping when all is quiet (a dead network path can hide a
lost session). While it is down, waiters simply wait out their timeout: the dispatcher polls
anyway, so a missed notification only delays work until the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from faxpush._db.postgres import DRIVER_ERRORS

logger = logging.getLogger("faxpush.storage.postgres")  # as the runner logs

PING_INTERVAL_S = 30.0
PING_TIMEOUT_S = 5.0
_FIRST_RETRY_S = 0.2
_MAX_RETRY_S = 10.0


class WorkListener:
    """Sets an event whenever a notification arrives on ``channel``."""

    def __init__(
        self, connect: Callable[[], Awaitable[asyncpg.Connection[asyncpg.Record]]], channel: str
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._woken = asyncio.Event()
        self._listening = False
        self._sessions = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """Whether a LISTEN session is up right now."""
        return self._listening

    async def wait(self, seconds: float) -> bool:
        """True when a notification arrived (since the last wake-up), False after
        ``seconds``."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="faxpush-pg-listen")
        try:
            await asyncio.wait_for(self._woken.wait(), max(seconds, 0.0))
        except TimeoutError:
            return False
        self._woken.clear()
        return True

    async def close(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _notified(self, *_: object) -> None:
        self._woken.set()

    async def _supervise(self) -> None:
        failures = 0
        while True:
            try:
                connection = await self._connect()
            except DRIVER_ERRORS as exc:
                logger.debug("cannot open the LISTEN connection: %s", exc)
            else:
                try:
                    await self._listen(connection)
                    failures = 0
                except DRIVER_ERRORS as exc:
                    logger.debug("the LISTEN connection failed: %s", exc)
                finally:
                    self._listening = False
                    connection.terminate()
            failures += 1
            await asyncio.sleep(min(_MAX_RETRY_S, _FIRST_RETRY_S * 2 ** min(failures, 8)))

    async def _listen(self, connection: asyncpg.Connection[asyncpg.Record]) -> None:
        """Listen until the connection is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(self._channel, self._notified)
        self._listening = True
        self._sessions += 1
        if self._sessions > 1:
            self._woken.set()  # notifications sent while reconnecting were missed
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), PING_INTERVAL_S)
                continue
            await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT_S)
