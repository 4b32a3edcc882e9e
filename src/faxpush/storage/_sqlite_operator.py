"""The SQLite store's :class:`~faxpush.storage.operator.OperatorStore` part.

Reads run on the store's thread (``SqliteStore.connection``); writes are ``@sqlite_work``
functions (``_sqlite_operator_work``) run through ``SqliteStore.write``, in the store process
when there is one. The per-receiver counters are added by ``finish`` in the transaction that
records the attempts (:meth:`SqliteOperator._counter_args`, ``_sqlite_operator_sql``).
Lists walk the index their filter picks (see ``operator_queries.sql``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from faxpush._db.migrations import load_migrations
from faxpush.core.errors import StorageError
from faxpush.core.receiver_stats import HISTOGRAM_COLUMNS
from faxpush.storage import _sqlite_operator_work as operator_work
from faxpush.storage import _sqlite_rows as rows
from faxpush.storage._common import from_micros, to_micros
from faxpush.storage._operator_common import (
    DAY,
    EXPIRED_ANSWERS_PER_PUT,
    HOUR,
    PENDING_STATES,
    SWEEP_EVERY,
    TOUCH_INTERVAL,
    CounterTotals,
    HealthRow,
    PendingRow,
    answer_expiry,
    assemble_stats,
    check_page_limit,
    check_redeliver_filter,
    check_token_name,
    duplicate_token,
    duplicate_token_hash,
    outcome_of,
    retention_start,
    series_range,
    window_start,
)
from faxpush.storage._rows_common import answer_from_row, token_from_row
from faxpush.storage._sqlite_console_users import SqliteConsoleUsers
from faxpush.storage._sqlite_operator_sql import Sample, operator_sql
from faxpush.storage._sqlite_sql import SCHEMA
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
    from faxpush._db.sqlite import Work
    from faxpush.storage.cipher import SecretCipher

T = TypeVar("T")
_NO_CURSOR = 2**63 - 1  # :before_created without a cursor: after every push
MAX_TOUCHED = 1000  # token names whose last written use a handle remembers


def _micros(value: datetime | None, name: str) -> int | None:
    return None if value is None else to_micros(value, name=name)


def _page_query(where: PushFilter) -> str:
    """The find_pushes query whose index the filter's equalities lead into."""
    if where.job_id is not None:
        return "find_pushes_by_job"
    if where.receiver is not None and where.state in PENDING_STATES:
        return "find_pushes_unfinished_of_receiver"
    if where.receiver is not None:
        return "find_pushes_by_receiver"
    if where.state is not None:
        return "find_pushes_by_state"
    return "find_pushes_newest"


def _filter_params(where: PushFilter) -> dict[str, Any]:
    since = _micros(where.since, "since")
    return {
        "state": None if where.state is None else where.state.value,
        "job_id": where.job_id,
        "receiver": where.receiver,
        "since": -_NO_CURSOR if since is None else since,
    }


def _all(conn: sqlite3.Connection, name: str, params: Any = ()) -> list[sqlite3.Row]:
    return conn.execute(operator_sql(name), params).fetchall()


class SqliteOperator(SqliteConsoleUsers):
    """The operator part of :class:`~faxpush.storage.sqlite.SqliteStore`."""

    _finishes = 0  # finishes counted by this handle (see _counter_args)
    # When this handle last wrote each token's use: a use within TOUCH_INTERVAL of it is not
    # sent to the writer at all (a write transaction per API request would be the cost).
    _touched: dict[str, datetime] | None = None

    if TYPE_CHECKING:  # provided by SqliteStore
        _cipher: SecretCipher

        async def _hot(self, action: str, work: Callable[..., T], *args: Any) -> T: ...

        async def connection(self, action: str, work: Work[T]) -> T: ...

    # --- ingest -------------------------------------------------------------------------
    async def enqueue_many(self, pushes: Sequence[NewPush], *, now: datetime) -> list[PushRecord]:
        """Store pushes as PENDING in one transaction, all or none; their records in order."""
        now_us = to_micros(now, name="now")
        sealed = [
            (rows.push_params(push, self._cipher, now_us=now_us), push.body) for push in pushes
        ]
        if not sealed:
            return []
        stored = await self._hot(
            f"enqueue {len(sealed)} pushes", operator_work.enqueue_pushes, sealed
        )
        return [
            rows.push_from_row(row, self._cipher, push.body if inserted else None)
            for push, (row, inserted) in zip(pushes, stored, strict=True)
        ]

    # --- queries ------------------------------------------------------------------------
    async def find_pushes(
        self, where: PushFilter, *, limit: int, before: PageCursor | None = None
    ) -> list[PushRecord]:
        """Up to ``limit`` pushes matching ``where``, newest first, after ``before``."""
        check_page_limit(limit)
        params = _filter_params(where)
        params["limit"] = limit
        if before is None:
            params["before_created"], params["before_id"] = _NO_CURSOR, ""
        else:
            params["before_created"] = to_micros(before.created_at, name="cursor")
            params["before_id"] = before.delivery_id
        query = _page_query(where)
        found = await self.connection("list pushes", lambda conn: _all(conn, query, params))
        return [rows.push_from_row(row, self._cipher) for row in found]

    async def job_attempts(self, job_id: str) -> list[AttemptRecord]:
        """Every attempt of every push of the job, oldest first."""
        found = await self.connection(
            f"list the attempts of job {job_id}",
            lambda conn: _all(conn, "job_attempts", {"job_id": job_id}),
        )
        return [rows.attempt_from_row(row) for row in found]

    async def receiver_stats(
        self, *, now: datetime, receiver: str | None = None
    ) -> list[ReceiverStats]:
        """One row per receiver with pushes or counted attempts (or just ``receiver``)."""
        windows = {
            "hour_start": to_micros(window_start(now, HOUR)),
            "day_start": to_micros(window_start(now, DAY)),
        }
        which = {"receiver": receiver}

        def read(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], ...]:
            if receiver is None:
                names = _all(conn, "receivers_with_pushes")
                pending = _all(conn, "pending_by_receiver")
            else:
                names, pending = [], _all(conn, "pending_of_receiver", which)
            day = _all(conn, "counter_day", {"day_start": windows["day_start"], **which})
            hour = _all(conn, "counter_hour", {"hour_start": windows["hour_start"], **which})
            health = _all(conn, "receiver_health", which)
            return names, day, hour, health, pending

        names, day, hour, health, pending = await self.connection("read receiver statistics", read)
        hours = {row["receiver"]: row for row in hour}
        no_hour = dict.fromkeys(("attempts", "successes", *HISTOGRAM_COLUMNS), 0)
        return assemble_stats(
            (row[0] for row in names),
            (
                CounterTotals(
                    row["receiver"],
                    (last := hours.get(row["receiver"], no_hour))["attempts"],
                    last["successes"],
                    row["attempts"],
                    row["successes"],
                    tuple(last[column] for column in HISTOGRAM_COLUMNS),
                )
                for row in day
            ),
            (
                HealthRow(
                    row["receiver"],
                    row["consecutive_failures"],
                    row["last_error"],
                    None if row["last_error_at"] is None else from_micros(row["last_error_at"]),
                    None if row["last_attempt_at"] is None else from_micros(row["last_attempt_at"]),
                )
                for row in health
            ),
            (PendingRow(row[0], row[1], from_micros(row[2])) for row in pending),
            only=receiver,
        )

    async def attempt_series(
        self, *, since: datetime, now: datetime
    ) -> list[tuple[datetime, int, int]]:
        """Every receiver's attempts and successes per bucket from ``since``, oldest first."""
        first, last = series_range(since, now)
        params = {"first": to_micros(first), "last": to_micros(last)}
        found = await self.connection(
            "read the attempts over time", lambda conn: _all(conn, "attempt_series", params)
        )
        return [(from_micros(row[0]), row[1], row[2]) for row in found]

    async def readiness(self) -> str | None:
        """None when the database answers and its schema is the newest this faxpush knows;
        else why not."""
        newest = load_migrations(SCHEMA.package, SCHEMA.folder)[-1].version
        try:
            current = await self.connection(
                "check the schema version",
                lambda conn: conn.execute(operator_sql("schema_version")).fetchone()[0],
            )
        except StorageError as exc:
            return f"the database does not answer: {exc}"
        if current < newest:
            return (
                f"the database schema is at version {current}, this faxpush needs {newest}; "
                "run 'faxpush db migrate'"
            )
        if current > newest:
            return (
                f"the database schema is at version {current}, newer than this faxpush knows "
                f"({newest}); upgrade faxpush"
            )
        return None

    # --- actions ------------------------------------------------------------------------
    async def cancel(self, delivery_ids: Sequence[str], *, now: datetime) -> set[str]:
        """Cancel the PENDING pushes among ``delivery_ids``; return those cancelled."""
        params = {"delivery_ids": json.dumps(list(delivery_ids)), "now": to_micros(now, name="now")}
        if not delivery_ids:
            return set()
        cancelled = await self._hot(
            f"cancel {len(delivery_ids)} pushes", operator_work.cancel_pending, params
        )
        return set(cancelled)

    async def redeliver_matching(self, where: PushFilter, *, now: datetime) -> int:
        """Put every finished push matching ``where`` back to PENDING, due now."""
        check_redeliver_filter(where)
        params = {**_filter_params(where), "now": to_micros(now, name="now")}
        return await self._hot(
            "redeliver the matching pushes", operator_work.redeliver_matching, params
        )

    # --- API tokens ---------------------------------------------------------------------
    async def create_api_token(
        self, name: str, scope: TokenScope, token_hash: str, *, now: datetime
    ) -> ApiToken:
        """Store a new token; a name or hash already in use is an InputError."""
        check_token_name(name)
        scope = TokenScope(scope)
        params = {
            "name": name,
            "scope": scope.value,
            "token_hash": token_hash,
            "now": to_micros(now, name="now"),
        }
        clash = await self._hot(f"create API token {name}", operator_work.create_api_token, params)
        if clash == "name":
            raise duplicate_token(name)
        if clash is not None:
            raise duplicate_token_hash()
        return ApiToken(name=name, scope=scope, created_at=from_micros(params["now"]))

    async def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The unrevoked token with this hash, or None."""
        found = await self.connection(
            "look up an API token",
            lambda conn: _all(conn, "api_token_by_hash", {"token_hash": token_hash}),
        )
        return next((token_from_row(row, from_micros) for row in found), None)

    async def touch_api_token(self, name: str, *, now: datetime) -> None:
        """Record a use, unless the last one recorded is under a minute old."""
        now_us = to_micros(now, name="now")
        if self._touched is None:
            self._touched = {}
        last = self._touched.get(name)
        if last is not None and last <= now < last + TOUCH_INTERVAL:
            return
        stale = to_micros(now - TOUCH_INTERVAL)
        await self._hot(
            f"record a use of API token {name}",
            operator_work.touch_api_token,
            {"name": name, "now": now_us, "stale": stale},
        )
        if len(self._touched) >= MAX_TOUCHED:  # names of deleted tokens must not pile up
            self._touched.clear()
        self._touched[name] = now

    async def list_api_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, by name."""
        found = await self.connection("list API tokens", lambda conn: _all(conn, "list_api_tokens"))
        return [token_from_row(row, from_micros) for row in found]

    async def revoke_api_token(self, name: str, *, now: datetime) -> bool:
        """Revoke; False when no unrevoked token has this name."""
        params = {"name": name, "now": to_micros(now, name="now")}
        return await self._hot(f"revoke API token {name}", operator_work.revoke_api_token, params)

    # --- idempotency ----------------------------------------------------------------------
    async def get_idempotent(self, key: str, *, now: datetime) -> IdempotentAnswer | None:
        """The answer remembered for ``key`` if it has not expired."""
        params = {"key": key, "now": to_micros(now, name="now")}
        found = await self.connection(
            "read an idempotent answer", lambda conn: _all(conn, "get_idempotent", params)
        )
        return next((answer_from_row(row, from_micros) for row in found), None)

    async def remember_idempotent(
        self, answer: IdempotentAnswer, *, keep: timedelta, now: datetime
    ) -> IdempotentAnswer:
        """Remember ``answer`` unless an unexpired one is remembered for its key; the one
        that is."""
        expires_us = to_micros(answer_expiry(now, keep))
        now_us = to_micros(now)
        params = {
            "key": answer.key,
            "request_hash": answer.request_hash,
            "status": answer.status,
            "body": answer.body,
            "created_at": to_micros(answer.created_at, name="created_at"),
            "expires_at": expires_us,
            "now": now_us,
        }
        sweep = {"now": now_us, "limit": EXPIRED_ANSWERS_PER_PUT}
        row = await self._hot(
            "remember an idempotent answer", operator_work.remember_idempotent, sweep, params
        )
        return answer_from_row(row, from_micros)

    # --- counters, for SqliteStore.finish --------------------------------------------------
    def _counter_args(
        self, results: Sequence[AttemptResult], now: datetime
    ) -> tuple[list[Sample], int | None]:
        """What ``_sqlite_hot.record_results`` needs to count ``results``: a plain sample of
        each, and now and then the start before which old counter buckets are dropped."""
        samples: list[Sample] = []
        for result in results:
            success, error = outcome_of(result)
            attempt = result.attempt
            started_us = to_micros(attempt.started_at, name="attempt started_at")
            samples.append(
                (
                    result.receiver,
                    result.delivery_id,
                    started_us,
                    attempt.duration_ms,
                    success,
                    error,
                )
            )
        self._finishes += 1
        drop_before = None
        if self._finishes % SWEEP_EVERY == 1:  # the first finish of a handle sweeps too
            drop_before = to_micros(retention_start(now))
        return samples, drop_before
