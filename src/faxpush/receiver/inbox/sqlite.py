"""The SQLite inbox: one file, one connection on one dedicated thread, group commit.

Pushes arriving together are stored in one ``BEGIN IMMEDIATE`` transaction (group commit):
each :meth:`SqliteInbox.accept` call waits until the transaction holding its push has
committed, so a 2xx is never answered for a push that is not on disk, while one fsync serves
every push of the batch. WAL mode with ``synchronous=FULL`` by default. The connection and its
thread are faxpush's one SQLite connection owner (:class:`faxpush._db.sqlite.SqliteThread`);
SQL lives in ``receiver/sql/inbox/``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

from faxpush._db.group_commit import GroupCommit
from faxpush._db.migrations import migrate_sqlite
from faxpush._db.queries import split_statements
from faxpush._db.sqlite import SqliteThread
from faxpush.core.errors import ConfigurationError, StorageError
from faxpush.receiver.inbox._rows import entry_params, task_from_row
from faxpush.receiver.inbox._sql import SqlInbox
from faxpush.receiver.inbox._sqlite_dialect import SCHEMA, micros, sql, time_of
from faxpush.receiver.inbox.base import (
    Accepted,
    HandlerTask,
    IncomingPush,
)
from faxpush.receiver.inbox.tasks import Claim, Finish

SYNCHRONOUS_MODES: Final = ("FULL", "NORMAL")
MAX_BATCH: Final = 500  # pushes per transaction


@dataclass(slots=True)
class _Pending:
    push: IncomingPush
    handlers: tuple[str, ...]
    now: int


class SqliteInbox(SqlInbox):
    """An :class:`~faxpush.receiver.inbox.base.InboxStore` in one SQLite file. Use
    :meth:`open`."""

    def __init__(self, path: str, thread: SqliteThread) -> None:
        super().__init__(micros, time_of)
        self._path = path
        self._thread = thread
        self._closed = False
        self._commits = GroupCommit[_Pending, Accepted](self._write_batch, max_batch=MAX_BATCH)

    @classmethod
    async def open(
        cls, path: Path | str, *, synchronous: str = "FULL", busy_timeout: float = 5.0
    ) -> SqliteInbox:
        """Open (creating if missing) the inbox database at ``path``; its directory must exist.

        Pushes that arrive while a transaction commits form the next one, so under load the
        batches grow by themselves (about 20 pushes per fsync at 64 concurrent senders).
        """
        location = str(path)
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ConfigurationError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        if location != ":memory:" and not Path(location).parent.is_dir():
            raise ConfigurationError(
                f"the directory of the inbox database {location} does not exist; create it"
            )
        setup = [*split_statements(sql("connection_setup")), f"PRAGMA synchronous = {mode}"]
        try:
            thread = await SqliteThread.open(
                location,
                timedelta(seconds=busy_timeout),
                setup=setup,
                name=f"the inbox {location}",
                thread_name="faxpush-inbox",
            )
        except StorageError as exc:  # the file cannot be opened or set up
            raise ConfigurationError(
                f"cannot open the inbox database {location}: {exc.__cause__ or exc}; check the path"
            ) from exc
        return cls(location, thread)

    def __repr__(self) -> str:
        return f"SqliteInbox({self._path!r})"

    @property
    def path(self) -> str:
        return self._path

    @property
    def batches(self) -> int:
        """Transactions that stored pushes, for tests and diagnostics."""
        return self._commits.batches

    # --- running named queries ----------------------------------------------------------
    async def _rows(
        self, action: str, name: str, params: dict[str, Any], *, write: bool = False
    ) -> list[sqlite3.Row]:
        query = sql(name)
        rows: list[sqlite3.Row] = await self._thread.run(
            action, lambda c: c.execute(query, params).fetchall(), write=write
        )
        return rows

    async def _value(self, action: str, name: str, params: dict[str, Any]) -> Any:
        query = sql(name)
        return await self._thread.run(
            action, lambda c: c.execute(query, params).fetchone()[0], write=False
        )

    async def _changed(self, action: str, name: str, params: dict[str, Any]) -> int:
        query = sql(name)
        changed: int = await self._thread.run(
            action, lambda c: c.execute(query, params).rowcount, write=True
        )
        return changed

    async def migrate(self) -> None:
        """Create or upgrade the inbox tables."""
        await self._thread.run(
            "migrate the schema",
            lambda c: migrate_sqlite(c, SCHEMA, where=self._path),
            write=False,  # the migrator runs its own transaction
        )

    async def close(self) -> None:
        """Wait for pending writes, then close the connection and its thread."""
        await self._commits.close()
        self._closed = True
        await self._thread.close()

    # --- accepting pushes (group commit) -----------------------------------------------
    async def accept(
        self, push: IncomingPush, *, handlers: Sequence[str], now: datetime
    ) -> Accepted:
        """Store the push (or count the duplicate); returns once committed."""
        if self._closed:
            raise StorageError(f"cannot store push {push.key}: the inbox {self._path} is closed")
        unique = tuple(dict.fromkeys(handlers)) if handlers else ()
        return await self._commits.submit(_Pending(push, unique, micros(now)))

    async def _write_batch(self, batch: list[_Pending]) -> list[Accepted]:
        results: list[Accepted] = await self._thread.run(
            "store pushes", partial(self._store, batch=batch), write=True
        )
        return results

    @staticmethod
    def _store(conn: sqlite3.Connection, *, batch: list[_Pending]) -> list[Accepted]:
        """The whole batch in the caller's transaction: new keys inserted, known ones
        counted."""
        keys = json.dumps([item.push.key for item in batch])
        times = dict(conn.execute(sql("known_keys"), {"keys": keys}).fetchall())
        inserts: list[dict[str, Any]] = []
        tasks: list[dict[str, Any]] = []
        duplicates: dict[str, tuple[int, int]] = {}
        results: list[Accepted] = []
        for item in batch:
            push = item.push
            seen = times.get(push.key, 0)
            times[push.key] = seen + 1
            results.append(Accepted(push.key, seen == 0, seen + 1))
            if seen:
                duplicates[push.key] = (duplicates.get(push.key, (0, 0))[0] + 1, item.now)
                continue
            inserts.append(entry_params(push, item.now))
            tasks += [{"key": push.key, "handler": h, "now": item.now} for h in item.handlers]
        if inserts:
            conn.executemany(sql("insert_entry"), inserts)
        if duplicates:
            conn.executemany(
                sql("count_duplicate"),
                [{"key": k, "times": n, "now": now} for k, (n, now) in duplicates.items()],
            )
        if tasks:
            conn.executemany(sql("insert_task"), tasks)
        return results

    # --- handler tasks ------------------------------------------------------------------
    async def _lease(self, claim: Claim) -> list[HandlerTask]:
        rows = await self._rows("claim tasks", "claim_due", claim.params(micros), write=True)
        return [task_from_row(row, time_of) for row in rows]

    async def _finish(self, finish: Finish) -> bool:
        return await self._changed("finish a task", "finish_task", finish.params(micros)) == 1


__all__ = ["SqliteInbox"]
