"""The PostgreSQL store's :class:`~faxpush.storage.operator.OperatorStore` part.

Lists page by keyset over indexes in their order (``0005_operator.sql``); the receivers table
reads the counters that the finish statement keeps (``queries.sql``), the health rows, and
the backlog from a partial index of the unfinished pushes, never the attempt table. What the
backends share (filter checks, counter deltas, windows, assembling the rows) is in
:mod:`faxpush.storage._operator_common` and :mod:`faxpush.core.receiver_stats`.

Lists and the receivers table plan each call for its parameter values (see the header of
``operator_queries.sql``), at the cost of two more round trips (a transaction and one
``SET LOCAL``). Measured on a million pushes (``bench/scale_admin.py``): planned for its
values a filtered page takes 2-8 ms; the generic plan of the same prepared statement, which
the server may switch to after five calls, is a sequential scan of the table, 230 ms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import asyncpg

from faxpush.core.errors import ConfigurationError, InputError, StorageError
from faxpush.storage import _pg_rows as rows
from faxpush.storage._common import to_micros
from faxpush.storage._operator_common import (
    COUNTER_SWEEP_LIMIT,
    DAY,
    EXPIRED_ANSWERS_PER_PUT,
    HOUR,
    SWEEP_EVERY,
    TOUCH_INTERVAL,
    CounterTotals,
    HealthRow,
    PendingRow,
    assemble_stats,
    check_page_limit,
    check_redeliver_filter,
    check_token_name,
    duplicate_token,
    retention_start,
    series_range,
    window_start,
)
from faxpush.storage._pg_console_users import PostgresConsoleUsers
from faxpush.storage._pg_operator_rows import (
    Params,
    answer_from_row,
    counter_params,
    filter_params,
    operator_sql,
    schema_lag,
    token_from_row,
)
from faxpush.storage.base import AttemptRecord, AttemptResult, NewPush, PushRecord
from faxpush.storage.operator import (
    ApiToken,
    IdempotentAnswer,
    PageCursor,
    PushFilter,
    ReceiverStats,
    TokenScope,
)

if TYPE_CHECKING:
    from faxpush._db.postgres import PooledConnection, Runner
    from faxpush.storage.cipher import SecretCipher

READINESS_TIMEOUT_S = 5.0  # a probe answers within this, even while the server is away
Isolation = Literal["read_committed", "repeatable_read"]


class PostgresOperator(PostgresConsoleUsers):
    """The operator part of :class:`~faxpush.storage.postgres.PostgresStore`."""

    if TYPE_CHECKING:  # provided by PostgresStore
        _runner: Runner
        _cipher: SecretCipher
        _where: str

    _finishes_to_sweep = 0  # finishes until the next sweep of old counter buckets

    # --- ingest -------------------------------------------------------------------------
    async def enqueue_many(self, pushes: Sequence[NewPush], *, now: datetime) -> list[PushRecord]:
        """Store pushes as PENDING in one statement (all or none), in order; a delivery id
        stored already is returned as it is."""
        to_micros(now, name="now")
        if not pushes:
            return []
        each = [rows.push_params(push, self._cipher, now=now) for push in pushes]
        columns: Params = {name: [params[name] for params in each] for name in each[0]}
        columns["now"] = now
        insert = operator_sql("insert_pushes", columns)
        ids = sorted({push.delivery_id for push in pushes})
        read = operator_sql("get_pushes", {"delivery_ids": ids})

        async def work(conn: PooledConnection, _: int) -> list[asyncpg.Record]:
            async with conn.transaction():
                await conn.execute(*insert)
                return await conn.fetch(*read)

        found = await self._runner.run(f"enqueue {len(pushes)} pushes", work)
        by_id = {row["delivery_id"]: rows.push_from_row(row, self._cipher) for row in found}
        missing = [delivery_id for delivery_id in ids if delivery_id not in by_id]
        if missing:
            raise StorageError(
                f"deliveries {missing[:5]} were neither inserted nor found in {self._where}; "
                "were they deleted meanwhile?"
            )
        return [by_id[push.delivery_id] for push in pushes]

    # --- queries ------------------------------------------------------------------------
    async def find_pushes(
        self, where: PushFilter, *, limit: int, before: PageCursor | None = None
    ) -> list[PushRecord]:
        """Up to ``limit`` pushes matching ``where``, newest first, strictly after ``before``."""
        check_page_limit(limit)
        params = {**filter_params(where), "limit": limit, "before_at": None, "before_id": None}
        if before is not None:
            to_micros(before.created_at, name="cursor")
            params.update(before_at=before.created_at, before_id=before.delivery_id)
        [found] = await self._planned("list pushes", [operator_sql("find_pushes", params)])
        return [rows.push_from_row(row, self._cipher) for row in found]

    async def job_attempts(self, job_id: str) -> list[AttemptRecord]:
        """Every attempt of every push of the job, oldest first."""
        statement = operator_sql("job_attempts", {"job_id": job_id})
        found = await self._runner.fetch(f"list the attempts of job {job_id}", statement)
        return [rows.attempt_from_row(row) for row in found]

    async def receiver_stats(
        self, *, now: datetime, receiver: str | None = None
    ) -> list[ReceiverStats]:
        """One row per receiver with pushes or counted attempts (or just ``receiver``), from
        the counters, the health rows and the backlog index, in one snapshot."""
        to_micros(now, name="now")
        which = {"receiver": receiver}
        windows = {
            **which,
            "hour_start": window_start(now, HOUR),
            "day_start": window_start(now, DAY),
        }
        names, totals, health, backlog = await self._planned(
            "read the receiver counters",
            [
                operator_sql("receivers_with_pushes", which),
                operator_sql("receiver_counter_totals", windows),
                operator_sql("receiver_health", which),
                operator_sql("receiver_backlog", which),
            ],
        )
        return assemble_stats(
            (row["receiver"] for row in names),
            (
                CounterTotals(
                    row["receiver"],
                    row["attempts_hour"] or 0,
                    row["successes_hour"] or 0,
                    row["attempts_day"],
                    row["successes_day"],
                    tuple(count or 0 for count in row["histogram_hour"]),
                )
                for row in totals
            ),
            (
                HealthRow(
                    row["receiver"],
                    row["consecutive_failures"],
                    row["last_error"],
                    row["last_error_at"],
                    row["last_attempt_at"],
                )
                for row in health
            ),
            (
                PendingRow(row["receiver"], row["pending"], row["oldest_pending_at"])
                for row in backlog
            ),
            only=receiver,
        )

    async def attempt_series(
        self, *, since: datetime, now: datetime
    ) -> list[tuple[datetime, int, int]]:
        """Every receiver's attempts and successes per bucket from ``since``, oldest first."""
        first, last = series_range(since, now)
        statement = operator_sql("attempt_series", {"first": first, "last": last})
        found = await self._runner.fetch("read the attempts over time", statement)
        return [(row["bucket_start"], row["attempts"], row["successes"]) for row in found]

    async def readiness(self) -> str | None:
        """None when the database answers within a few seconds and its schema is current;
        else why not."""
        statement = operator_sql("schema_version")
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_S):
                current: int = await self._runner.run(
                    "read the schema version", lambda c, _: c.fetchval(*statement), retry=False
                )
        except TimeoutError:
            return (
                f"PostgreSQL at {self._where} did not answer within {READINESS_TIMEOUT_S:g} s; "
                "check that the server is running and reachable"
            )
        except (StorageError, ConfigurationError) as exc:
            return str(exc)
        return schema_lag(current, self._where)

    # --- actions ------------------------------------------------------------------------
    async def cancel(self, delivery_ids: Sequence[str], *, now: datetime) -> set[str]:
        """Cancel the PENDING pushes among ``delivery_ids``; return those cancelled."""
        to_micros(now, name="now")
        if not delivery_ids:
            return set()
        statement = operator_sql("cancel_pushes", {"delivery_ids": list(delivery_ids), "now": now})
        found = await self._runner.fetch(f"cancel {len(delivery_ids)} pushes", statement)
        return {row["delivery_id"] for row in found}

    async def redeliver_matching(self, where: PushFilter, *, now: datetime) -> int:
        """Put every finished push matching ``where`` back to PENDING, due now.

        Not repeated after a lost connection (the count could not be told again)."""
        check_redeliver_filter(where)
        to_micros(now, name="now")
        statement = operator_sql("redeliver_matching", {**filter_params(where), "now": now})
        [found] = await self._planned(
            "redeliver matching pushes", [statement], readonly=False, retry=False
        )
        return len(found)

    # --- API tokens ---------------------------------------------------------------------
    async def create_api_token(
        self, name: str, scope: TokenScope, token_hash: str, *, now: datetime
    ) -> ApiToken:
        """Store a new token; a name or hash already in use is an InputError."""
        check_token_name(name)
        to_micros(now, name="now")
        params = {"name": name, "scope": TokenScope(scope).value, "token_hash": token_hash}
        insert = operator_sql("create_api_token", {**params, "now": now})
        named = operator_sql("api_token_named", {"name": name})

        async def work(conn: PooledConnection, _: int) -> tuple[bool, asyncpg.Record | None]:
            created = await conn.fetchrow(*insert)
            return (True, created) if created else (False, await conn.fetchrow(*named))

        created, row = await self._runner.run(f"create API token {name}", work)
        if created and row is not None:
            return token_from_row(row)
        if row is None:  # the name is free: the hash was taken
            raise InputError("this token is stored already; generate a new one")
        raise duplicate_token(name)

    async def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The unrevoked token with this hash, or None."""
        statement = operator_sql("api_token_by_hash", {"token_hash": token_hash})
        row = await self._runner.run("look up an API token", lambda c, _: c.fetchrow(*statement))
        return None if row is None else token_from_row(row)

    async def touch_api_token(self, name: str, *, now: datetime) -> None:
        """Record a use, unless the last recorded one is under a minute old."""
        to_micros(now, name="now")
        params = {"name": name, "now": now, "recent": now - TOUCH_INTERVAL}
        statement = operator_sql("touch_api_token", params)
        await self._runner.run(
            f"record a use of API token {name}", lambda c, _: c.execute(*statement)
        )

    async def list_api_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, by name."""
        statement = operator_sql("list_api_tokens")
        found = await self._runner.fetch("list API tokens", statement)
        return [token_from_row(row) for row in found]

    async def revoke_api_token(self, name: str, *, now: datetime) -> bool:
        """Revoke; False when no unrevoked token has this name."""
        to_micros(now, name="now")
        statement = operator_sql("revoke_api_token", {"name": name, "now": now})
        found = await self._runner.run(
            f"revoke API token {name}", lambda c, _: c.fetchval(*statement)
        )
        return found is not None

    # --- idempotency ----------------------------------------------------------------------
    async def get_idempotent(self, key: str, *, now: datetime) -> IdempotentAnswer | None:
        """The answer remembered for ``key`` if it has not expired."""
        to_micros(now, name="now")
        statement = operator_sql("get_idempotent", {"key": key, "now": now})
        row = await self._runner.run(
            "read an idempotent answer", lambda c, _: c.fetchrow(*statement)
        )
        return None if row is None else answer_from_row(row)

    async def remember_idempotent(
        self, answer: IdempotentAnswer, *, keep: timedelta, now: datetime
    ) -> IdempotentAnswer:
        """Remember ``answer`` unless an unexpired one is remembered for its key; the one
        that is. Concurrent callers with one key (on any connection) all get the first."""
        if keep <= timedelta(0):
            raise InputError(f"an idempotent answer must be kept for a positive time, not {keep}")
        to_micros(now, name="now")
        to_micros(answer.created_at, name="created_at")
        sweep = operator_sql(
            "delete_expired_answers", {"now": now, "limit": EXPIRED_ANSWERS_PER_PUT}
        )
        params = {
            "key": answer.key,
            "request_hash": answer.request_hash,
            "status": answer.status,
            "body": answer.body,
            "created_at": answer.created_at,
            "expires_at": now + keep,
            "now": now,
        }
        insert = operator_sql("remember_idempotent", params)
        read = operator_sql("get_idempotent", {"key": answer.key, "now": now})

        async def work(conn: PooledConnection, _: int) -> asyncpg.Record | None:
            await conn.execute(*sweep)
            return await conn.fetchrow(*insert) or await conn.fetchrow(*read)

        row = await self._runner.run("remember an idempotent answer", work)
        if row is None:
            raise StorageError(
                f"the answer for idempotency key {answer.key!r} was neither stored nor found "
                f"in {self._where}; it expired meanwhile (is the clock of this host behind?)"
            )
        return answer_from_row(row)

    # --- helpers ------------------------------------------------------------------------
    async def _planned(
        self,
        action: str,
        statements: Sequence[list[Any]],
        *,
        readonly: bool = True,
        retry: bool = True,
    ) -> list[list[asyncpg.Record]]:
        """The rows of each statement, run in one transaction (one snapshot) with plans made
        for their parameter values."""

        async def work(conn: PooledConnection, _: int) -> list[list[asyncpg.Record]]:
            isolation: Isolation = "repeatable_read" if readonly else "read_committed"
            async with conn.transaction(isolation=isolation, readonly=readonly):
                await conn.execute(*operator_sql("force_custom_plan"))
                return [await conn.fetch(*statement) for statement in statements]

        return await self._runner.run(action, work, retry=retry)

    async def _counter_params(
        self, conn: PooledConnection, results: Sequence[AttemptResult], now: datetime
    ) -> Params:
        """The counter parameters of ``finish`` (looking up the receivers of results that do
        not carry theirs); now and then, first drop a few counter buckets past retention."""
        missing = sorted({result.delivery_id for result in results if result.receiver is None})
        known: dict[str, str] = {}
        if missing:
            found = await conn.fetch(*operator_sql("receivers_of", {"delivery_ids": missing}))
            known = {row["delivery_id"]: row["receiver"] for row in found}
        if self._finishes_to_sweep <= 0:
            self._finishes_to_sweep = SWEEP_EVERY
            sweep = {"before": retention_start(now), "limit": COUNTER_SWEEP_LIMIT}
            await conn.execute(*operator_sql("delete_old_counts", sweep))
        self._finishes_to_sweep -= 1
        return counter_params(results, lambda result: known.get(result.delivery_id))
