"""The PostgreSQL inbox: one database shared by any number of receiver processes.

Storing a push is one ``INSERT … ON CONFLICT (key) DO UPDATE`` statement that also inserts
its tasks, so the database's unique key decides, across processes, whether a push is new or
a duplicate, before the receiver answers 2xx. Handler tasks are leased with ``FOR UPDATE SKIP
LOCKED`` and a fresh claim id (the fencing token), so one handler run happens per push and
handler no matter how many receivers run handlers. The pool is faxpush's one PostgreSQL
runner (:class:`faxpush._db.postgres.Runner`), which repeats work after a lost connection;
accepts, claims and finishes first ask whether their earlier try committed (by accept id,
claim id, finished claim id) instead of doing the work twice. SQL lives in
``receiver/sql/inbox_postgresql/``; the tables and the schema-version table carry an
``inbox_`` prefix, so the inbox may share a database with the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from faxpush._db.migrations import migrate_postgres
from faxpush._db.postgres import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    Endpoint,
    Reconnect,
    Runner,
)
from faxpush.receiver.inbox._pg_rows import QUERIES, SCHEMA, checked, time_of
from faxpush.receiver.inbox._rows import entry_from_row, entry_params, page, task_from_row
from faxpush.receiver.inbox.base import (
    Accepted,
    ClaimedTask,
    HandlerTask,
    InboxEntry,
    IncomingPush,
    TaskState,
)
from faxpush.receiver.inbox.tasks import Claim, Finish, task_filter

if TYPE_CHECKING:
    from faxpush._db.postgres import PooledConnection


class PgInbox:
    """An :class:`~faxpush.receiver.inbox.base.InboxStore` in a PostgreSQL database. Use
    :meth:`open`."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._where = runner.where

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        connect_timeout: timedelta = DEFAULT_CONNECT_TIMEOUT,
        command_timeout: timedelta = DEFAULT_COMMAND_TIMEOUT,
        reconnect: Reconnect | None = None,
    ) -> PgInbox:
        """Connect to the database ``url`` names (``postgresql://user:pw@host:5432/db``);
        while the server is unreachable, connecting is retried as operations are."""
        endpoint = Endpoint.parse(
            url, connect_timeout=connect_timeout, command_timeout=command_timeout
        )
        runner = await Runner.open(endpoint, max_connections=max_connections, reconnect=reconnect)
        return cls(runner)

    def __repr__(self) -> str:
        return f"PgInbox({self._where!r})"

    @property
    def url(self) -> str:
        """The database URL, without its password."""
        return self._where

    async def migrate(self) -> None:
        """Create or upgrade the inbox tables; receivers starting at once take turns."""
        await self._runner.run("migrate the inbox schema", lambda c, _: self._migrate(c))

    async def _migrate(self, conn: PooledConnection) -> None:
        await migrate_postgres(conn, SCHEMA, where=self._where)

    async def close(self) -> None:
        """Close the connections; later calls raise StorageError. Safe to call twice."""
        await self._runner.close()

    async def accept(
        self, push: IncomingPush, *, handlers: Sequence[str], now: datetime
    ) -> Accepted:
        """Store the push with its tasks (or count the duplicate); returns once committed."""
        accept_id = uuid.uuid4()
        params = entry_params(push, checked(now))
        params["accept_id"] = accept_id
        params["handlers"] = list(dict.fromkeys(handlers))
        store, earlier = QUERIES.bind("accept", params), QUERIES.bind("accepted_by", params)

        async def work(conn: PooledConnection, attempt: int) -> int:
            if attempt > 0:  # did the try whose answer was lost commit?
                seen: int | None = await conn.fetchval(*earlier)
                if seen is not None:
                    return seen
            times: int = await conn.fetchval(*store)
            return times

        times = await self._runner.run(f"store push {push.key}", work)
        return Accepted(push.key, times == 1, times)

    # --- reading ------------------------------------------------------------------------
    async def get(self, key: str) -> InboxEntry | None:
        """The push stored under ``key``."""
        statement = QUERIES.bind("get_entry", {"key": key})
        row = await self._runner.run(f"read push {key}", lambda c, _: c.fetchrow(*statement))
        return None if row is None else entry_from_row(row, time_of)

    async def list_entries(self, *, limit: int = 100, offset: int = 0) -> list[InboxEntry]:
        """Newest first."""
        statement = QUERIES.bind("list_entries", page(limit=limit, offset=offset))
        rows = await self._runner.run("list pushes", lambda c, _: c.fetch(*statement))
        return [entry_from_row(row, time_of) for row in rows]

    async def count(self) -> int:
        """How many pushes are stored."""
        statement = QUERIES.bind("count_entries")
        found: int = await self._runner.run("count pushes", lambda c, _: c.fetchval(*statement))
        return found

    # --- handler tasks ------------------------------------------------------------------
    async def claim_tasks(
        self, *, now: datetime, lease: timedelta, limit: int, key: str | None = None
    ) -> list[ClaimedTask]:
        """Lease due tasks, earliest due first; rows other processes hold are skipped."""
        claim = Claim.start(now=checked(now), lease=lease, limit=limit, key=key)
        if claim is None:
            return []
        params = claim.params(checked)
        taking, earlier = QUERIES.bind("claim_due", params), QUERIES.bind("claimed_by", params)

        async def work(conn: PooledConnection, attempt: int) -> list[asyncpg.Record]:
            if attempt > 0:  # did the try whose answer was lost commit?
                taken = await conn.fetch(*earlier)
                if taken:
                    return taken
            return await conn.fetch(*taking)

        rows = await self._runner.run("claim handler tasks", work)
        return claim.claimed(task_from_row(row, time_of) for row in rows)

    async def finish_task(
        self,
        claimed: ClaimedTask,
        *,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Apply the outcome if the claim is still current."""
        params = Finish.of(claimed, now=now, error=error, retry_at=retry_at).params(checked)
        finish, earlier = QUERIES.bind("finish_task", params), QUERIES.bind("finished_by", params)

        async def work(conn: PooledConnection, attempt: int) -> bool:
            if attempt > 0 and await conn.fetchval(*earlier) is not None:
                return True  # the try whose answer was lost committed
            return await conn.fetchval(*finish) is not None

        return await self._runner.run(f"finish handler {claimed.task.handler}", work)

    async def list_tasks(
        self, *, key: str | None = None, state: TaskState | None = None, limit: int = 1000
    ) -> list[HandlerTask]:
        """Tasks by push arrival, then handler name."""
        statement = QUERIES.bind("list_tasks", task_filter(key=key, state=state, limit=limit))
        rows = await self._runner.run("list handler tasks", lambda c, _: c.fetch(*statement))
        return [task_from_row(row, time_of) for row in rows]

    async def retry_failed(self, *, now: datetime, key: str | None = None) -> int:
        """FAILED tasks become PENDING, due now. After a reconnect the count covers only what
        the repeated try changed."""
        statement = QUERIES.bind("retry_failed", {"now": checked(now), "key": key})
        found: int = await self._runner.run(
            "retry failed tasks", lambda c, _: c.fetchval(*statement)
        )
        return found

    async def next_task_due(self) -> datetime | None:
        """The earliest due time among PENDING tasks and RUNNING leases."""
        statement = QUERIES.bind("next_task_due")
        due: datetime | None = await self._runner.run(
            "read the next due task", lambda c, _: c.fetchval(*statement)
        )
        return due

    async def purge(self, *, received_before: datetime) -> int:
        """Drop old pushes whose tasks are all DONE. After a reconnect the count covers only
        what the repeated try deleted."""
        statement = QUERIES.bind("purge", {"received_before": checked(received_before)})
        found: int = await self._runner.run("purge pushes", lambda c, _: c.fetchval(*statement))
        return found


__all__ = ["PgInbox"]
