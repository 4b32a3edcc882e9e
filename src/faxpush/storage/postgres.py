"""The PostgreSQL :class:`~faxpush.storage.base.Store`: one queue shared by many workers.

Claims lock due rows with ``FOR NO KEY UPDATE SKIP LOCKED`` inside one ``UPDATE …
RETURNING``, so concurrent workers on any number of machines pass each other's rows instead
of waiting, and no push is handed out twice. Each claim gets a fresh ``claim_id`` (the fencing
token); renew, finish and release only touch rows whose claim is still current, and a claim
takes over expired leases itself (the reaper is part of the claim). Batches travel as arrays
and are unnested in SQL: a whole ``finish`` batch is one statement, hence one transaction and
one round trip (group commit). Inserting a push or putting one back to pending sends
``NOTIFY faxpush_pushes`` (a trigger); :meth:`PostgresStore.wait_for_work` turns that into a
wake-up for idle workers, who poll as well, so a lost notification only costs latency.

Lost connections (server restart, ``pg_terminate_backend``, network) are retried with
capped, jittered backoff where repeating is safe: reads, idempotent writes (enqueue, upserts,
renew, migrations, rotation), and the fenced writes, which find out after a reconnect whether
their first try committed (claim by its claim id prefix, finish by its batch id) instead of
doing the work twice. Redelivery is not repeated: its count could not be told again.

Driver: asyncpg. Measured on one machine (PostgreSQL 15, 2 cores) with the claim and finish
statements of this module, claiming and finishing 20,000 pushes in batches of 200: asyncpg
13-16k pushes/s with one worker and 21-23k/s with four, psycopg 3.3 (async, pool, binary,
prepared) 10-12k/s and 16-18k/s. Single-row enqueues were bound by commit latency and
equal for both. The batch path is what a busy worker runs, so asyncpg it is.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar, Unpack

import asyncpg

from faxpush._db.migrations import migrate_postgres
from faxpush._db.postgres import PoolOptions, Runner, Work, closed_error
from faxpush._db.postgres_listen import WorkListener
from faxpush.core.errors import StorageError
from faxpush.core.secrets import Secret
from faxpush.storage import _pg_rows as rows
from faxpush.storage._common import check_page, check_results, lease_micros, share_binds, to_micros
from faxpush.storage._pg_admin import SCHEMA, rotate_all, sql
from faxpush.storage._pg_operator import PostgresOperator
from faxpush.storage._rows_common import counts_by_state
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

if TYPE_CHECKING:
    from faxpush._db.postgres import PooledConnection

NOTIFY_CHANNEL = "faxpush_pushes"
T = TypeVar("T")


class PostgresStore(PostgresOperator):
    """A :class:`~faxpush.storage.operator.OperatorStore` in a PostgreSQL database. Open with
    :meth:`open`."""

    def __init__(self, runner: Runner, cipher: SecretCipher, listener: WorkListener) -> None:
        self._where = runner.where
        self._runner = runner
        self._cipher = cipher
        self._listener = listener

    @classmethod
    async def open(
        cls, url: str, cipher: SecretCipher, **options: Unpack[PoolOptions]
    ) -> PostgresStore:
        """Connect to the database ``url`` names (``postgresql://user:pw@host:5432/db``),
        with the pool ``options`` of :meth:`~faxpush._db.postgres.Runner.connect`.

        While the server is unreachable, opening is retried as operations are."""
        runner = await Runner.connect(url, **options)
        return cls(runner, cipher, WorkListener(runner.endpoint.connect, NOTIFY_CHANNEL))

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r})"

    @property
    def url(self) -> str:
        """The database URL, without its password."""
        return self._where

    @property
    def cipher(self) -> SecretCipher:
        """The cipher that seals the secrets stored in this database."""
        return self._cipher

    async def run(self, action: str, work: Work[T], *, retry: bool = True) -> T:
        """``work(connection, attempt)`` on a pooled connection, repeated after a lost
        connection as this store's own operations are (``attempt`` counts the earlier tries).

        For stores that keep their tables in the same database (the emulator's jobs): work
        that opens ``connection.transaction()`` commits its writes and the outbox's together."""
        return await self._runner.run(action, work, retry=retry)

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection behind :meth:`wait_for_work` is up right now."""
        return self._listener.listening

    async def close(self) -> None:
        """Close the connections; later calls raise StorageError. Safe to call twice."""
        await self._listener.close()
        await self._runner.close()

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - the dispatcher's idle wait
        """True when a push was enqueued or put back to pending since the last wake-up
        (``NOTIFY``), False after ``timeout`` seconds. A hint only: callers poll as well."""
        if self._runner.closed:
            raise closed_error("wait for work", self._where)
        return await self._listener.wait(timeout)

    async def migrate(self) -> None:
        """Create or upgrade the schema; a no-op when it is current. Concurrent callers
        (several workers starting at once) take turns."""
        where = self._where
        await self._runner.run(
            "migrate the schema", lambda c, _: migrate_postgres(c, SCHEMA, where=where)
        )

    # --- accounts ---------------------------------------------------------------------
    async def put_account(self, account: Account) -> None:
        """Insert or replace an account's push settings."""
        statement = sql("put_account", rows.account_params(account, self._cipher))
        await self._runner.run(
            f"save account {account.customer_number}", lambda c, _: c.execute(*statement)
        )

    async def get_account(self, customer_number: str) -> Account | None:
        """The account's push settings, or None."""
        statement = sql("get_account", {"customer_number": customer_number})
        found = await self._runner.run(
            f"read account {customer_number}", lambda c, _: c.fetchrow(*statement)
        )
        return None if found is None else rows.account_from_row(found, self._cipher)

    async def list_accounts(self) -> list[Account]:
        """Every account, by customer number."""
        statement = sql("list_accounts")
        found = await self._runner.fetch("list accounts", statement)
        return [rows.account_from_row(row, self._cipher) for row in found]

    # --- the outbox -------------------------------------------------------------------
    async def enqueue(self, push: NewPush, *, now: datetime) -> PushRecord:
        """Store a push as PENDING. Idempotent: an existing delivery id is returned as is."""
        insert = sql("insert_push", rows.push_params(push, self._cipher, now=now))
        read = sql("get_push", {"delivery_id": push.delivery_id})

        async def work(conn: PooledConnection, _: int) -> asyncpg.Record | None:
            return await conn.fetchrow(*insert) or await conn.fetchrow(*read)

        found = await self._runner.run(f"enqueue delivery {push.delivery_id}", work)
        if found is None:
            raise StorageError(
                f"delivery {push.delivery_id} was neither inserted nor found in "
                f"{self._where}; was it deleted meanwhile?"
            )
        return rows.push_from_row(found, self._cipher)

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
        skipping receivers in ``exclude_receivers``, at most ``receiver_limit`` (less what
        is held) per receiver."""
        to_micros(now, name="now")
        lease_micros(lease)
        if limit <= 0:
            return []
        prefix = f"{worker_id}:{secrets.token_hex(8)}."
        params = {
            "now": now,
            "limit": limit,
            "claimed_until": now + lease,
            "claim_prefix": prefix,
            "exclude": sorted(exclude_receivers),
            "receiver_limit": limit if receiver_limit is None else receiver_limit,
            "held_receivers": list((receiver_held or {}).keys()),
            "held_counts": list((receiver_held or {}).values()),
        }
        shared = share_binds(limit, receiver_limit, receiver_held)
        claim = sql("claim_due_shared" if shared else "claim_due", params)
        earlier = sql("claimed_with_prefix", params)

        async def work(conn: PooledConnection, attempt: int) -> list[asyncpg.Record]:
            if attempt > 0:  # did the try whose answer was lost commit?
                taken = await conn.fetch(*earlier)
                if taken:
                    return taken
            return await conn.fetch(*claim)

        found = await self._runner.run(f"claim pushes for worker {worker_id}", work)
        return rows.claims_from_rows(found, self._cipher)

    async def renew(
        self, claims: Sequence[tuple[str, str]], *, lease: timedelta, now: datetime
    ) -> set[str]:
        """Extend the leases still held; return their delivery ids."""
        to_micros(now, name="now")
        lease_micros(lease)
        if not claims:
            return set()
        statement = sql(
            "renew_claims", {**rows.pair_params(claims), "now": now, "claimed_until": now + lease}
        )
        found = await self._runner.fetch(f"renew {len(claims)} leases", statement)
        return {row["delivery_id"] for row in found}

    async def finish(self, results: Sequence[AttemptResult], *, now: datetime) -> set[str]:
        """Record every attempt; apply the verdicts whose claim id is still current; add
        the attempts to the per-receiver counters.

        The whole batch is one statement, so one transaction (group commit)."""
        to_micros(now, name="now")
        check_results(results)
        if not results:
            return set()
        batch = uuid.uuid4()
        params = {**rows.finish_params(results), "now": now, "finish_batch": batch}
        ids = sorted({result.delivery_id for result in results})
        earlier = sql("finished_batch", {"delivery_ids": ids, "finish_batch": batch})

        async def work(conn: PooledConnection, attempt: int) -> set[str]:
            if attempt > 0:  # did the try whose answer was lost commit?
                recorded = await conn.fetch(*earlier)
                if recorded:
                    return {row["delivery_id"] for row in recorded if row["verdict_applied"]}
            counters = await self._counter_params(conn, results, now)
            finish = sql("finish", {**params, **counters})
            return {row["delivery_id"] for row in await conn.fetch(*finish)}

        return await self._runner.run(f"finish {len(results)} attempts", work)

    async def release(
        self, claims: Sequence[tuple[str, str]], *, now: datetime, due_at: datetime | None = None
    ) -> int:
        """Return held pushes to PENDING, due at ``due_at`` (default now), without an attempt.

        After a reconnect the count covers only what the repeated try released."""
        to_micros(now, name="now")
        due = now if due_at is None else rows.checked_time(due_at, "due_at")
        if not claims:
            return 0
        statement = sql("release_claims", {**rows.pair_params(claims), "now": now, "due": due})
        found = await self._runner.fetch(f"release {len(claims)} claims", statement)
        return len({row["delivery_id"] for row in found})

    async def next_due_at(self) -> datetime | None:
        """When the earliest PENDING push becomes due (or an IN_FLIGHT lease expires)."""
        statement = sql("next_due_at")
        due: datetime | None = await self._runner.run(
            "find the next due push", lambda c, _: c.fetchval(*statement)
        )
        return due

    # --- queries and operator actions -------------------------------------------------
    async def get_push(self, delivery_id: str) -> PushRecord | None:
        """The push with this delivery id, or None."""
        statement = sql("get_push", {"delivery_id": delivery_id})
        found = await self._runner.run(
            f"read delivery {delivery_id}", lambda c, _: c.fetchrow(*statement)
        )
        return None if found is None else rows.push_from_row(found, self._cipher)

    async def list_pushes(
        self, *, state: PushState | None = None, limit: int = 100, offset: int = 0
    ) -> list[PushRecord]:
        """Newest first."""
        check_page(limit, offset)
        page = {"limit": limit, "offset": offset}
        if state is None:
            statement = sql("list_pushes", page)
        else:
            statement = sql("list_pushes_in_state", {**page, "state": state.value})
        found = await self._runner.fetch("list pushes", statement)
        return [rows.push_from_row(row, self._cipher) for row in found]

    async def list_attempts(self, delivery_id: str) -> list[AttemptRecord]:
        """Oldest first."""
        statement = sql("list_attempts", {"delivery_id": delivery_id})
        found = await self._runner.fetch(f"list attempts of delivery {delivery_id}", statement)
        return [rows.attempt_from_row(row) for row in found]

    async def count_by_state(self) -> dict[PushState, int]:
        """How many pushes are in each state (every state is present)."""
        statement = sql("count_by_state")
        found = await self._runner.fetch("count pushes", statement)
        return counts_by_state(found)

    async def redeliver(
        self,
        *,
        delivery_ids: Sequence[str] = (),
        failed_since: datetime | None = None,
        now: datetime,
    ) -> int:
        """Put finished pushes back to PENDING, due now, keeping their attempt count.

        Not repeated after a lost connection (the count could not be told again): on a
        StorageError, check the pushes' states before trying again."""
        to_micros(now, name="now")
        if failed_since is not None:
            to_micros(failed_since, name="failed_since")
        params = {"delivery_ids": list(delivery_ids), "failed_since": failed_since, "now": now}
        statement = sql("redeliver", params)
        found = await self._runner.fetch("redeliver pushes", statement, retry=False)
        return len(found)

    # --- OAuth2 token cache -----------------------------------------------------------
    async def get_token(self, cache_key: str, *, now: datetime) -> Secret | None:
        """A cached access token that has not expired, or None."""
        to_micros(now, name="now")
        statement = sql("get_token", {"cache_key": cache_key, "now": now})
        sealed = await self._runner.run("read a cached token", lambda c, _: c.fetchval(*statement))
        return None if sealed is None else self._cipher.decrypt(sealed)

    async def put_token(
        self, cache_key: str, token: Secret, *, expires_at: datetime, now: datetime | None = None
    ) -> None:
        """Cache an access token until ``expires_at``; drop some that expired by ``now``."""
        sweep = sql("delete_expired_tokens", rows.token_sweep_params(now))
        put = sql("put_token", rows.token_params(cache_key, self._cipher, token, expires_at))

        async def work(conn: PooledConnection, _: int) -> None:
            await conn.execute(*sweep)
            await conn.execute(*put)

        await self._runner.run("cache a token", work)

    # --- secrets ----------------------------------------------------------------------
    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret (the emulator jobs' push credentials included) with
        the cipher's primary key, in one transaction; return the count.

        Secrets are read and rewritten in chunks."""
        return await self._runner.run("rotate secrets", lambda c, _: rotate_all(c, self._cipher))
