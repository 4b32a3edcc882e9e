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
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Unpack

from faxpush._db.migrations import migrate_postgres
from faxpush._db.postgres import PoolOptions, Runner
from faxpush.receiver.inbox._pg_dialect import QUERIES, SCHEMA, checked, time_of
from faxpush.receiver.inbox._rows import entry_params, task_from_row
from faxpush.receiver.inbox._sql import SqlInbox
from faxpush.receiver.inbox.base import (
    Accepted,
    HandlerTask,
    IncomingPush,
)
from faxpush.receiver.inbox.tasks import Claim, Finish

if TYPE_CHECKING:
    from asyncpg import Record

    from faxpush._db.postgres import PooledConnection

# How a query's answer is read: its first value, or all its rows.
Fetch = Callable[["PooledConnection", list[Any]], Awaitable[Any]]


class PgInbox(SqlInbox):
    """An :class:`~faxpush.receiver.inbox.base.InboxStore` in a PostgreSQL database. Use
    :meth:`open`."""

    def __init__(self, runner: Runner) -> None:
        super().__init__(checked, time_of)
        self._runner = runner
        self._where = runner.where

    @classmethod
    async def open(cls, url: str, **options: Unpack[PoolOptions]) -> PgInbox:
        """Connect to the database ``url`` names (``postgresql://user:pw@host:5432/db``),
        with the pool ``options`` of :meth:`~faxpush._db.postgres.Runner.connect`; while the
        server is unreachable, connecting is retried as operations are."""
        return cls(await Runner.connect(url, **options))

    def __repr__(self) -> str:
        return f"PgInbox({self._where!r})"

    @property
    def url(self) -> str:
        """The database URL, without its password."""
        return self._where

    async def migrate(self) -> None:
        """Create or upgrade the inbox tables; receivers starting at once take turns."""
        await self._runner.run(
            "migrate the inbox schema",
            lambda c, _: migrate_postgres(c, SCHEMA, where=self._where),
        )

    async def close(self) -> None:
        """Close the connections; later calls raise StorageError. Safe to call twice."""
        await self._runner.close()

    # --- running named queries ----------------------------------------------------------
    async def _rows(self, action: str, name: str, params: dict[str, Any]) -> list[Record]:
        return await self._runner.fetch(action, QUERIES.bind(name, params))

    async def _value(self, action: str, name: str, params: dict[str, Any]) -> Any:
        statement = QUERIES.bind(name, params)
        return await self._runner.run(action, lambda c, _: c.fetchval(*statement))

    async def _changed(self, action: str, name: str, params: dict[str, Any]) -> int:
        """The count query ``name`` returns; after a reconnect it covers only what the
        repeated try changed."""
        return int(await self._value(action, name, params))

    async def _once(
        self, action: str, fetch: Fetch, name: str, earlier: str, params: dict[str, Any]
    ) -> Any:
        """Query ``name`` once: a repeated try (after a lost answer) first asks query
        ``earlier`` what the try before did, in case it committed."""
        statement, asking = QUERIES.bind(name, params), QUERIES.bind(earlier, params)

        async def work(conn: PooledConnection, attempt: int) -> Any:
            if attempt > 0 and (found := await fetch(conn, asking)):
                return found
            return await fetch(conn, statement)

        return await self._runner.run(action, work)

    # --- accepting pushes ---------------------------------------------------------------
    async def accept(
        self, push: IncomingPush, *, handlers: Sequence[str], now: datetime
    ) -> Accepted:
        """Store the push with its tasks (or count the duplicate); returns once committed."""
        params = entry_params(push, checked(now))
        params["accept_id"] = uuid.uuid4()
        params["handlers"] = list(dict.fromkeys(handlers))
        times: int = await self._once(
            f"store push {push.key}", _first_value, "accept", "accepted_by", params
        )
        return Accepted(push.key, times == 1, times)

    # --- handler tasks ------------------------------------------------------------------
    async def _lease(self, claim: Claim) -> list[HandlerTask]:
        """Rows other processes hold are skipped."""
        params = claim.params(checked)
        rows = await self._once("claim handler tasks", _all_rows, "claim_due", "claimed_by", params)
        return [task_from_row(row, time_of) for row in rows]

    async def _finish(self, finish: Finish) -> bool:
        action = f"finish handler {finish.handler}"
        params = finish.params(checked)
        return (
            await self._once(action, _first_value, "finish_task", "finished_by", params) is not None
        )


async def _first_value(conn: PooledConnection, statement: list[Any]) -> Any:
    return await conn.fetchval(*statement)


async def _all_rows(conn: PooledConnection, statement: list[Any]) -> list[Record]:
    return await conn.fetch(*statement)


__all__ = ["PgInbox"]
