"""The SQLite :class:`~faxpush.storage.base.Store`: one file, one writer at a time.

The connection runs in WAL mode with ``synchronous=FULL`` (a committed push survives a power
cut). Writes run in ``BEGIN IMMEDIATE`` transactions, so several processes on the same file
serialise on the write lock instead of failing half-way; claims use ``UPDATE … RETURNING``
(SQLite 3.35 or newer). Every operation is one plain function run on the connection's own
thread (see :mod:`faxpush._db.sqlite`): one thread hop per transaction. Opened with
``store_process``, claims and results run instead in a process of their own (see
``_sqlite_process``), and the two connections take turns. SQL lives in ``sql/sqlite/*.sql``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from faxpush._db.migrations import migrate_sqlite
from faxpush._db.sqlite import SqliteThread, Work
from faxpush.core.errors import InputError
from faxpush.core.secrets import Secret
from faxpush.storage import _sqlite_hot as hot
from faxpush.storage import _sqlite_rows as rows
from faxpush.storage._common import (
    check_results,
    from_micros,
    lease_micros,
    to_micros,
    token_sweep_params,
)
from faxpush.storage._sqlite_process import SqliteProcess
from faxpush.storage._sqlite_sql import SCHEMA, connection_setup
from faxpush.storage._sqlite_sql import sql as _sql
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


def insert_push(
    conn: sqlite3.Connection, push: NewPush, cipher: SecretCipher, *, now_us: int
) -> sqlite3.Row | None:
    """Insert a push and its body inside the caller's transaction (on the store's thread);
    None when the delivery id exists already (enqueue is idempotent). Shared with stores
    that enqueue in their own transactions (the emulator's jobs)."""
    params = rows.push_params(push, cipher, now_us=now_us)
    row: sqlite3.Row | None = next(iter(_all(conn, "insert_push", params)), None)
    if row is not None:
        conn.execute(_sql("insert_body"), {"seq": row["seq"], "body": push.body})
    return row


def _all(conn: sqlite3.Connection, name: str, params: Any = ()) -> list[sqlite3.Row]:
    return conn.execute(_sql(name), params).fetchall()


def _execute(conn: sqlite3.Connection, name: str, params: Any = ()) -> None:
    conn.execute(_sql(name), params)


def _scalar(conn: sqlite3.Connection, name: str, params: Any = ()) -> Any:
    return next((row[0] for row in _all(conn, name, params)), None)


class SqliteStore:
    """A :class:`~faxpush.storage.base.Store` in one SQLite file. Open with :meth:`open`."""

    def __init__(self, connection: SqliteThread, cipher: SecretCipher) -> None:
        self._connection = connection
        self._path = connection.location
        self._cipher = cipher
        self._process: SqliteProcess | None = None
        # With a store process there are two connections that write: taking turns here keeps
        # them from meeting in SQLite's lock, whose busy handler sleeps up to 100 ms a time.
        self._writing = asyncio.Lock()

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

        ``store_process``: run claims and results in a process of their own, started on the
        first claim (what ``faxpush worker`` does; see ``_sqlite_process``)."""
        thread = await SqliteThread.open(str(path), busy_timeout, setup=connection_setup())
        store = cls(thread, cipher)
        if store_process:
            store._process = SqliteProcess(str(path), busy_timeout.total_seconds())
        return store

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

    async def transaction(self, action: str, work: Work[T]) -> T:
        """Run ``work(connection)`` on the store's thread inside one write transaction,
        committed when it returns and rolled back when it raises.

        For stores that keep their tables in the same database (the emulator's jobs), so
        that their writes and the outbox's commit together. ``work`` must not block on
        anything but the database."""
        async with self._turn():
            return await self._connection.run(action, work, write=True)

    async def _hot(self, action: str, work: Callable[..., T], *args: Any) -> T:
        """One of the dispatcher's hot transactions, in the store process if there is one."""
        if self._process is None:
            return await self.transaction(action, lambda conn: work(conn, *args))
        async with self._turn():
            result: T = await self._process.run(action, hot.work_name(work), *args)
        return result

    async def connection(self, action: str, work: Work[T]) -> T:
        """Run ``work(connection)`` on the store's thread, each statement its own
        transaction (for reads, and single-statement writes)."""
        async with self._turn():  # it may write
            return await self._connection.run(action, work, write=False)

    def _turn(self) -> contextlib.AbstractAsyncContextManager[object]:
        """With a store process, the two connections take turns (see ``__init__``)."""
        return self._writing if self._process is not None else contextlib.nullcontext()

    async def close(self) -> None:
        """Close the connection once queued work has run; later calls raise StorageError.
        Safe to call twice."""
        try:
            if self._process is not None:
                await self._process.close()
        finally:
            await self._connection.close()

    async def diagnostics(self) -> dict[str, Any]:
        """SQLite version and the connection's pragmas (journal_mode, synchronous, ...)."""
        found = await self.connection("read diagnostics", lambda c: _all(c, "diagnostics"))
        return dict(found[0])

    async def migrate(self) -> None:
        """Create or upgrade the schema; a no-op when it is current."""
        await self.connection(
            "migrate the schema", lambda conn: migrate_sqlite(conn, SCHEMA, where=self._path)
        )

    # --- accounts ---------------------------------------------------------------------
    async def put_account(self, account: Account) -> None:
        """Insert or replace an account's push settings."""
        params = rows.account_params(account, self._cipher)
        await self.connection(
            f"save account {account.customer_number}",
            lambda conn: _execute(conn, "put_account", params),
        )

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
        now_us = to_micros(now, name="now")

        def insert(conn: sqlite3.Connection) -> tuple[sqlite3.Row, bool]:
            row = insert_push(conn, push, self._cipher, now_us=now_us)
            if row is not None:
                return row, True
            return _all(conn, "get_push", {"delivery_id": push.delivery_id})[0], False

        row, inserted = await self.transaction(f"enqueue delivery {push.delivery_id}", insert)
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
        found = await self.transaction(
            f"renew {len(claims)} leases", lambda conn: _all(conn, "renew_claims", params)
        )
        return {row[0] for row in found}

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
        found = await self.transaction(
            f"release {len(claims)} claims", lambda conn: _all(conn, "release_claims", params)
        )
        return len({row[0] for row in found})

    async def next_due_at(self) -> datetime | None:
        """When the earliest PENDING push becomes due (or an IN_FLIGHT lease expires)."""
        due = await self.connection(
            "find the next due push", lambda conn: _scalar(conn, "next_due_at")
        )
        return None if due is None else from_micros(due)

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - the protocol's
        """SQLite cannot tell when another process writes: wait the whole ``timeout``."""
        await asyncio.sleep(timeout)
        return False

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
        if limit < 0 or offset < 0:
            raise InputError(f"limit and offset must not be negative (got {limit}, {offset})")
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
        counts = dict.fromkeys(PushState, 0)
        counts.update({PushState(row["state"]): row["pushes"] for row in found})
        return counts

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
        return await self.transaction(
            "redeliver pushes", lambda conn: conn.execute(_sql("redeliver"), params).rowcount
        )

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

        def put(conn: sqlite3.Connection) -> None:
            _execute(conn, "delete_expired_tokens", sweep)
            _execute(conn, "put_token", params)

        await self.transaction("cache a token", put)

    # --- secrets ----------------------------------------------------------------------
    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret (the emulator jobs' push credentials included) with
        the cipher's primary key, in one transaction; return the count."""
        return await self.transaction(
            "rotate secrets", lambda conn: rows.rotate_secrets(conn, self._cipher, _sql)
        )
