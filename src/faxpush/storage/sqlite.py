"""The SQLite :class:`~faxpush.storage.base.Store`: one file, one writing connection.

The database runs in WAL mode with ``synchronous=FULL`` (a committed push survives a power
cut). Claims use ``UPDATE … RETURNING`` (SQLite 3.35 or newer); SQL lives in
``sql/sqlite/*.sql``.

Every write is a ``@sqlite_work`` function (``_sqlite_hot``, ``_sqlite_work``,
``_sqlite_jobs_work``: a connection and plain data in, plain data out) handed to
:meth:`SqliteStore.write`, which runs it in one ``BEGIN IMMEDIATE`` transaction on its one
writing connection:

* without a store process, the connection on the store's thread (:mod:`faxpush._db.sqlite`;
  one thread hop per transaction), which also reads;
* opened with ``store_process`` (what ``faxpush worker`` does), the connection of a process of
  its own (``_sqlite_process``), started on the first write; from then on the thread's
  connection only reads (``PRAGMA query_only``), so the two never meet in SQLite's write lock
  (whose busy handler sleeps up to 100 ms a time). Migrations that come before the first
  write run on the thread, which is still the only writer then: there is no process yet, and
  the hand-over waits for the work queued on the thread. Later ones run in the process. A
  command that only reads, or only migrates, never starts the process. The routing is
  :class:`~._sqlite_writing.WritingPath`.

Secrets are sealed and opened here, with the cipher: the process gets and returns sealed
bytes, so the keys never leave this process. A write, once called, commits even if its
caller is cancelled (the process cannot be called back, and the thread does the same).
Reads run on the thread, each statement its own transaction (:meth:`SqliteStore.connection`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from faxpush._db.sqlite import SqliteThread, Work
from faxpush.core.secrets import Secret
from faxpush.storage import _sqlite_hot as hot
from faxpush.storage import _sqlite_news as news
from faxpush.storage import _sqlite_rows as rows
from faxpush.storage import _sqlite_work as work
from faxpush.storage._common import (
    check_page,
    check_results,
    from_micros,
    lease_micros,
    to_micros,
    token_sweep_params,
)
from faxpush.storage._rows_common import counts_by_state
from faxpush.storage._sqlite_operator import SqliteOperator
from faxpush.storage._sqlite_process import SqliteProcess
from faxpush.storage._sqlite_sql import SCHEMA, connection_setup
from faxpush.storage._sqlite_sql import sql as _sql
from faxpush.storage._sqlite_writing import WritingPath
from faxpush.storage.base import (
    Account,
    AttemptRecord,
    AttemptResult,
    ClaimedPush,
    NewPush,
    PushRecord,
    PushState,
)
from faxpush.storage.cipher import SecretCipher

DEFAULT_BUSY_TIMEOUT = timedelta(seconds=5)
T = TypeVar("T")


def _all(conn: sqlite3.Connection, name: str, params: Any = ()) -> list[sqlite3.Row]:
    return conn.execute(_sql(name), params).fetchall()


def _scalar(conn: sqlite3.Connection, name: str, params: Any = ()) -> Any:
    return next((row[0] for row in _all(conn, name, params)), None)


class SqliteStore(SqliteOperator):
    """A :class:`~faxpush.storage.operator.OperatorStore` in one SQLite file. Open with
    :meth:`open`."""

    def __init__(
        self, connection: SqliteThread, cipher: SecretCipher, process: SqliteProcess | None = None
    ) -> None:
        self._connection = connection
        self._path = connection.location
        self._cipher = cipher
        self._process = process
        self._writing = WritingPath(connection, process)
        self._commits = news.CommitWatch(connection.location)  # wait_for_work

    @classmethod
    async def open(
        cls,
        path: Path | str,
        cipher: SecretCipher,
        *,
        busy_timeout: timedelta = DEFAULT_BUSY_TIMEOUT,
        store_process: bool = False,
    ) -> SqliteStore:
        """Connect to the database at ``path`` (created if missing; its directory must exist).

        ``store_process``: write in a process of its own, started on the first write (what
        ``faxpush worker`` does; see the module docstring and ``_sqlite_process``)."""
        thread = await SqliteThread.open(str(path), busy_timeout, setup=connection_setup())
        process = SqliteProcess(str(path), busy_timeout.total_seconds()) if store_process else None
        return cls(thread, cipher, process)

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @property
    def cipher(self) -> SecretCipher:
        """The cipher that seals the secrets stored in this database."""
        return self._cipher

    async def write(self, action: str, work: Callable[..., T], *args: Any) -> T:
        """The store's one way to write: the ``@sqlite_work`` function ``work(connection,
        *args)`` in one write transaction on the writing connection (see the module
        docstring and :class:`~._sqlite_writing.WritingPath`). ``args`` and the result are
        plain data (they may cross to the process).

        Once called, the write commits even if the caller is cancelled meanwhile."""
        return await self._writing.write(action, work, *args)

    _hot = write  # the dispatcher's claims and results, and the operator's writes

    async def connection(self, action: str, work: Work[T]) -> T:
        """Run ``work(connection)`` on the store's thread, each statement its own
        transaction: for reads (with a store process the connection refuses to write)."""
        return await self._connection.run(action, work, write=False)

    async def close(self) -> None:
        """Close the connection once queued work has run; later calls raise StorageError.
        Safe to call twice."""
        try:
            await self._writing.close()
        finally:
            self._commits.close()
            await self._connection.close()

    async def diagnostics(self) -> dict[str, Any]:
        """SQLite version and the connection's pragmas (journal_mode, synchronous, ...)."""
        found = await self.connection("read diagnostics", lambda c: _all(c, "diagnostics"))
        return dict(found[0])

    async def migrate(self) -> None:
        """Create or upgrade the schema; a no-op when it is current."""
        await self.write("migrate the schema", work.migrate, SCHEMA, self._path)

    # --- accounts ---------------------------------------------------------------------
    async def put_account(self, account: Account) -> None:
        """Insert or replace an account's push settings."""
        params = rows.account_params(account, self._cipher)
        await self.write(f"save account {account.customer_number}", work.put_account, params)

    async def get_account(self, customer_number: str) -> Account | None:
        """The account's push settings, or None."""
        found = await self.connection(
            f"read account {customer_number}",
            lambda conn: _all(conn, "get_account", {"customer_number": customer_number}),
        )
        return next((rows.account_from_row(row, self._cipher) for row in found), None)

    async def list_accounts(self) -> list[Account]:
        """Every account, by customer number."""
        found = await self.connection("list accounts", lambda conn: _all(conn, "list_accounts"))
        return [rows.account_from_row(row, self._cipher) for row in found]

    # --- the outbox -------------------------------------------------------------------
    async def enqueue(self, push: NewPush, *, now: datetime) -> PushRecord:
        """Store a push as PENDING. Idempotent: an existing delivery id is returned as is."""
        params = rows.push_params(push, self._cipher, now_us=to_micros(now, name="now"))
        row, inserted = await self.write(
            f"enqueue delivery {push.delivery_id}", work.enqueue, params, push.body
        )
        return rows.push_from_row(row, self._cipher, push.body if inserted else None)

    async def claim(
        self,
        *,
        worker_id: str,
        limit: int,
        lease: timedelta,
        now: datetime,
        exclude_receivers: Collection[str] = (),
        receiver_limit: int | None = None,
        receiver_held: Mapping[str, int] | None = None,
    ) -> list[ClaimedPush]:
        """Lease up to ``limit`` due pushes, oldest due first, each with a fresh claim id,
        at most ``receiver_limit`` (less what is held) per receiver."""
        query, params = rows.claim_params(
            worker_id, limit, now, lease, exclude_receivers, receiver_limit, receiver_held
        )
        if limit <= 0:
            return []

        names, found, bodies = await self._hot(
            f"claim pushes for worker {worker_id}",
            hot.claim_due,
            _sql(query),
            _sql("bodies_of"),
            params,
        )
        return rows.claims_from_rows(names, found, bodies, self._cipher)

    async def renew(
        self, claims: Sequence[tuple[str, str]], *, lease: timedelta, now: datetime
    ) -> set[str]:
        """Extend the leases still held; return their delivery ids."""
        now_us = to_micros(now, name="now")
        params = {
            "claims": json.dumps([list(claim) for claim in claims]),
            "now": now_us,
            "claimed_until": now_us + lease_micros(lease),
        }
        if not claims:
            return set()
        return set(await self.write(f"renew {len(claims)} leases", work.renew, params))

    async def finish(self, results: Sequence[AttemptResult], *, now: datetime) -> set[str]:
        """Record every attempt; apply the verdicts whose claim id is still current.

        The whole batch is one transaction (group commit)."""
        now_us = to_micros(now, name="now")
        check_results(results)
        if not results:
            return set()
        attempts = [rows.attempt_values(result.attempt) for result in results]
        batches = rows.attempt_batches(_sql("record_attempts"), attempts)
        params = {"results": rows.verdicts_json(results), "now": now_us}
        applied = await self._hot(
            f"finish {len(results)} attempts",
            hot.record_results,
            batches,
            _sql("apply_verdicts"),
            params,
            self._counter_args(results, now),
        )
        return set(applied)

    async def release(
        self, claims: Sequence[tuple[str, str]], *, now: datetime, due_at: datetime | None = None
    ) -> int:
        """Return held pushes to PENDING, due at ``due_at`` (default now), without an attempt."""
        params = {
            "claims": json.dumps([list(claim) for claim in claims]),
            "now": to_micros(now, name="now"),
            "due": to_micros(due_at or now, name="due_at"),
        }
        if not claims:
            return 0
        found = await self.write(f"release {len(claims)} claims", work.release, params)
        return len(set(found))

    async def next_due_at(self) -> datetime | None:
        """When the earliest PENDING push becomes due (or an IN_FLIGHT lease expires)."""
        due = await self.connection(
            "find the next due push", lambda conn: _scalar(conn, "next_due_at")
        )
        return None if due is None else from_micros(due)

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - the protocol's
        """True within about 25 ms of another connection's commit (``faxpush admin``, another
        worker; since the last call, the first only notes where the database stands), False
        after ``timeout`` seconds: ``PRAGMA data_version``, see :mod:`._sqlite_news`. This
        store's own writes never wake it; any other commit does (a hint: the caller polls)."""
        return await self._commits.wait(timeout, self._commit_reading)

    async def _commit_reading(self) -> news.Reading:
        process = self._writing.running_process()
        if process is not None:
            return "process", await process.run("look for commits", news.DATA_VERSION)
        version = await self._connection.run("look for commits", news.data_version, write=False)
        return "thread", version

    # --- queries and operator actions -------------------------------------------------
    async def get_push(self, delivery_id: str) -> PushRecord | None:
        """The push with this delivery id, or None."""
        found = await self.connection(
            f"read delivery {delivery_id}",
            lambda conn: _all(conn, "get_push", {"delivery_id": delivery_id}),
        )
        return next((rows.push_from_row(row, self._cipher) for row in found), None)

    async def list_pushes(
        self, *, state: PushState | None = None, limit: int = 100, offset: int = 0
    ) -> list[PushRecord]:
        """Newest first."""
        check_page(limit, offset)
        params = {"state": None if state is None else state.value, "limit": limit}
        found = await self.connection(
            "list pushes", lambda conn: _all(conn, "list_pushes", {**params, "offset": offset})
        )
        return [rows.push_from_row(row, self._cipher) for row in found]

    async def list_attempts(self, delivery_id: str) -> list[AttemptRecord]:
        """Oldest first."""
        found = await self.connection(
            f"list attempts of delivery {delivery_id}",
            lambda conn: _all(conn, "list_attempts", {"delivery_id": delivery_id}),
        )
        return [rows.attempt_from_row(row) for row in found]

    async def count_by_state(self) -> dict[PushState, int]:
        """How many pushes are in each state (every state is present)."""
        found = await self.connection("count pushes", lambda conn: _all(conn, "count_by_state"))
        return counts_by_state(found)

    async def redeliver(
        self,
        *,
        delivery_ids: Sequence[str] = (),
        failed_since: datetime | None = None,
        now: datetime,
    ) -> int:
        """Put finished pushes back to PENDING, due now, keeping their attempt count."""
        params = {
            "delivery_ids": json.dumps(list(delivery_ids)),
            "failed_since": None
            if failed_since is None
            else to_micros(failed_since, name="failed_since"),
            "now": to_micros(now, name="now"),
        }
        return await self.write("redeliver pushes", work.redeliver, params)

    # --- OAuth2 token cache -----------------------------------------------------------
    async def get_token(self, cache_key: str, *, now: datetime) -> Secret | None:
        """A cached access token that has not expired, or None."""
        params = {"cache_key": cache_key, "now": to_micros(now, name="now")}
        sealed = await self.connection(
            "read a cached token", lambda conn: _scalar(conn, "get_token", params)
        )
        return None if sealed is None else self._cipher.decrypt(sealed)

    async def put_token(
        self, cache_key: str, token: Secret, *, expires_at: datetime, now: datetime | None = None
    ) -> None:
        """Cache an access token until ``expires_at``; drop some that expired by ``now``."""
        sweep = token_sweep_params(now)
        params = {
            "cache_key": cache_key,
            "token": self._cipher.encrypt(token),
            "expires_at": to_micros(expires_at, name="expires_at"),
        }
        await self.write("cache a token", work.put_token, sweep, params)

    # --- secrets ----------------------------------------------------------------------
    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret with the cipher's primary key; return the count."""
        tables = [(_sql(f"{t}_secrets"), _sql(f"update_{t}_secret")) for t in rows.SECRET_TABLES]
        return await self.reseal("rotate secrets", tables)

    async def reseal(self, action: str, tables: Sequence[tuple[str, str]]) -> int:
        """Re-seal the secrets each ``(select, update)`` query pair reads and stores (``id``,
        ``secret``) under the cipher's primary key: read here, re-sealed in this process,
        written in one transaction where unchanged since (:func:`_sqlite_work.reseal`)."""

        def read(conn: sqlite3.Connection) -> list[list[tuple[Any, bytes]]]:
            return [[tuple(row) for row in conn.execute(select)] for select, _ in tables]

        found = await self.connection(action, read)
        resealed = [
            (select, update, [(key, old, self._cipher.rotate(old)) for key, old in secrets])
            for (select, update), secrets in zip(tables, found, strict=True)
        ]
        return await self.write(action, work.reseal, resealed)
