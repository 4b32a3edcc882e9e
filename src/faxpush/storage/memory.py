"""An in-process :class:`~faxpush.storage.base.Store`: a real backend and a testing helper.

It keeps everything in dictionaries plus a schedule of due pushes and leases, so a claim
of k pushes costs O(k log n). It follows the same contract as the SQLite store, down to
encrypting secrets when given a :class:`SecretCipher`; without one it keeps them as
:class:`Secret` objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from faxpush.core.errors import InputError, StorageError
from faxpush.core.secrets import Secret
from faxpush.storage._common import (
    VERDICT_STATE,
    check_results,
    from_micros,
    lease_micros,
    new_claim_id,
    to_micros,
)
from faxpush.storage._memory_operator import MemoryOperator
from faxpush.storage._memory_records import (
    MemoryData,
    Sealer,
    claimed_push,
    drop_expired_tokens,
    keep_sealed,
    push_record,
    reseal_all,
    stored_attempt,
)
from faxpush.storage._memory_schedule import PushRow, Sealed, Shares
from faxpush.storage._operator_common import REQUEUEABLE
from faxpush.storage.base import (
    Account,
    AttemptRecord,
    AttemptResult,
    ClaimedPush,
    NewPush,
    PushRecord,
    PushState,
    Verdict,
)
from faxpush.storage.cipher import SecretCipher

__all__ = ["MemoryStore"]


class MemoryStore(MemoryOperator):
    """A :class:`~faxpush.storage.operator.OperatorStore` kept in memory; safe for one event
    loop."""

    def __init__(self, cipher: SecretCipher | None = None) -> None:
        self._cipher = cipher
        self._sealer = Sealer(cipher)
        self._data = MemoryData()
        self._closed = False

    def reopen(self, cipher: SecretCipher | None) -> MemoryStore:
        """Another handle on the same data, as if the database were opened with ``cipher``."""
        other = MemoryStore(cipher)
        other._data = self._data
        return other

    def __repr__(self) -> str:
        return f"MemoryStore(pushes={len(self._data.pushes)})"

    @property
    def cipher(self) -> SecretCipher | None:
        """The cipher that seals the secrets kept here (None: kept in clear)."""
        return self._cipher

    def extension(self, name: str, factory: Callable[[], object]) -> object:
        """State another store keeps in this memory database (the emulator's jobs), shared
        by every handle on it; created by ``factory`` on first use."""
        extensions = self._data.extensions
        if name not in extensions:
            extensions[name] = factory()
        return extensions[name]

    def seal(self, secret: Secret | None) -> Sealed | None:
        """``secret`` as this store keeps it at rest (for state kept by :meth:`extension`)."""
        return self._sealer.seal(secret)

    def unseal(self, sealed: Sealed) -> Secret:
        """Open what :meth:`seal` returned, with this handle's cipher."""
        return self._sealer.open(sealed)

    async def migrate(self) -> None:
        """Nothing to create; present for the protocol."""
        self._check_open()

    async def close(self) -> None:
        """Close this handle; later calls on it raise StorageError."""
        self._closed = True

    # --- accounts ---------------------------------------------------------------------
    async def put_account(self, account: Account) -> None:
        """Insert or replace an account's push settings."""
        async with self._locked() as data:
            sealed = self._sealer.seal(account.push_credentials)
            data.accounts[account.customer_number] = (
                replace(account, push_credentials=None, push_client_key=None),
                sealed,
            )
            keep_sealed(
                data.account_keys,
                account.customer_number,
                self._sealer.seal(account.push_client_key),
            )

    async def get_account(self, customer_number: str) -> Account | None:
        """The account's push settings, or None."""
        async with self._locked() as data:
            stored = data.accounts.get(customer_number)
            return None if stored is None else self._account(*stored)

    async def list_accounts(self) -> list[Account]:
        """Every account, by customer number."""
        async with self._locked() as data:
            return [self._account(*data.accounts[key]) for key in sorted(data.accounts)]

    # --- the outbox -------------------------------------------------------------------
    async def enqueue(self, push: NewPush, *, now: datetime) -> PushRecord:
        """Store a push as PENDING. Idempotent: an existing delivery id is returned as is."""
        now_us = to_micros(now, name="now")
        due_us = (
            now_us if push.not_before is None else to_micros(push.not_before, name="not_before")
        )
        async with self._locked() as data:
            return self._record(self._insert(data, push, now_us, due_us))

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
        now_us = to_micros(now, name="now")
        until_us = now_us + lease_micros(lease)
        async with self._locked() as data:
            if limit <= 0:
                return []
            claimed: list[ClaimedPush] = []
            shares = Shares(frozenset(exclude_receivers), receiver_limit, receiver_held or {})
            for row in data.schedule.take(now_us, limit, shares):
                row.state = PushState.IN_FLIGHT
                row.claim_id = new_claim_id(worker_id)
                row.claimed_until = until_us
                row.updated_at = now_us
                data.schedule.track(row)
                claimed.append(self._claimed(row, from_micros(until_us)))
            return claimed

    async def renew(
        self, claims: Sequence[tuple[str, str]], *, lease: timedelta, now: datetime
    ) -> set[str]:
        """Extend the leases still held; return their delivery ids."""
        now_us = to_micros(now, name="now")
        until_us = now_us + lease_micros(lease)
        async with self._locked() as data:
            renewed: set[str] = set()
            for row in self._held(data, claims):
                row.claimed_until = until_us
                row.updated_at = now_us
                data.schedule.track(row)
                renewed.add(row.new.delivery_id)
            return renewed

    async def finish(self, results: Sequence[AttemptResult], *, now: datetime) -> set[str]:
        """Record every attempt; apply the verdicts whose claim id is still current."""
        now_us = to_micros(now, name="now")
        check_results(results)
        async with self._locked() as data:
            applied: set[str] = set()
            for result in results:
                row = data.pushes.get(result.delivery_id)
                if row is None:
                    continue
                data.attempts[result.delivery_id].append(stored_attempt(result.attempt))
                if row.state is not PushState.IN_FLIGHT or row.claim_id != result.claim_id:
                    continue
                row.state = VERDICT_STATE[result.verdict]
                row.attempts += 1
                row.claim_id = row.claimed_until = None
                row.last_error = result.error
                row.updated_at = now_us
                if result.next_attempt_at is not None and result.verdict is Verdict.RETRY:
                    row.next_attempt_at = to_micros(result.next_attempt_at)
                data.schedule.track(row)
                applied.add(result.delivery_id)
            self._count_results(data, results, now)
            return applied

    async def release(
        self, claims: Sequence[tuple[str, str]], *, now: datetime, due_at: datetime | None = None
    ) -> int:
        """Return held pushes to PENDING, due at ``due_at`` (default now), without an attempt."""
        now_us = to_micros(now, name="now")
        due_us = to_micros(due_at or now, name="due_at")
        async with self._locked() as data:
            released = 0
            for row in self._held(data, claims):
                row.state = PushState.PENDING
                row.claim_id = row.claimed_until = None
                row.next_attempt_at, row.updated_at = due_us, now_us
                data.schedule.track(row)
                released += 1
            if released:
                data.work.set()
            return released

    async def next_due_at(self) -> datetime | None:
        """When the earliest PENDING push becomes due (or an IN_FLIGHT lease expires)."""
        async with self._locked() as data:
            earliest = data.schedule.earliest()
            return None if earliest is None else from_micros(earliest)

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - the protocol's
        """True once a push is enqueued, released or redelivered through any handle on this
        database, False after ``timeout`` seconds."""
        self._check_open()
        work = self._data.work
        try:
            await asyncio.wait_for(work.wait(), timeout)
        except TimeoutError:
            return False
        work.clear()
        return True

    # --- queries and operator actions -------------------------------------------------
    async def get_push(self, delivery_id: str) -> PushRecord | None:
        """The push with this delivery id, or None."""
        async with self._locked() as data:
            row = data.pushes.get(delivery_id)
            return None if row is None else self._record(row)

    async def list_pushes(
        self, *, state: PushState | None = None, limit: int = 100, offset: int = 0
    ) -> list[PushRecord]:
        """Newest first."""
        _check_page(limit, offset)
        async with self._locked() as data:
            rows = [row for row in data.pushes.values() if state is None or row.state is state]
            rows.sort(key=lambda row: (row.created_at, row.seq), reverse=True)
            return [self._record(row) for row in rows[offset : offset + limit]]

    async def list_attempts(self, delivery_id: str) -> list[AttemptRecord]:
        """Oldest first."""
        async with self._locked() as data:
            return list(data.attempts.get(delivery_id, ()))

    async def count_by_state(self) -> dict[PushState, int]:
        """How many pushes are in each state (every state is present)."""
        async with self._locked() as data:
            counts = dict.fromkeys(PushState, 0)
            for row in data.pushes.values():
                counts[row.state] += 1
            return counts

    async def redeliver(
        self,
        *,
        delivery_ids: Sequence[str] = (),
        failed_since: datetime | None = None,
        now: datetime,
    ) -> int:
        """Put finished pushes back to PENDING, due now, keeping their attempt count."""
        now_us = to_micros(now, name="now")
        since_us = None if failed_since is None else to_micros(failed_since, name="failed_since")
        async with self._locked() as data:
            chosen = {
                row.new.delivery_id: row
                for row in (data.pushes.get(delivery_id) for delivery_id in delivery_ids)
                if row is not None and row.state in REQUEUEABLE
            }
            if since_us is not None:
                for row in data.pushes.values():
                    if row.state is PushState.FAILED and row.updated_at >= since_us:
                        chosen[row.new.delivery_id] = row
            return data.requeue(chosen.values(), now_us)

    # --- OAuth2 token cache -----------------------------------------------------------
    async def get_token(self, cache_key: str, *, now: datetime) -> Secret | None:
        """A cached access token that has not expired, or None."""
        now_us = to_micros(now, name="now")
        async with self._locked() as data:
            stored = data.tokens.get(cache_key)
            if stored is None or stored[1] <= now_us:
                return None
            return self._sealer.open(stored[0])

    async def put_token(
        self, cache_key: str, token: Secret, *, expires_at: datetime, now: datetime | None = None
    ) -> None:
        """Cache an access token until ``expires_at``; drop some that expired by ``now``."""
        expires_us = to_micros(expires_at, name="expires_at")
        async with self._locked() as data:
            drop_expired_tokens(data.tokens, now)
            data.tokens[cache_key] = (self._sealer.encrypt(token), expires_us)

    # --- secrets ----------------------------------------------------------------------
    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret with the cipher's primary key, at once; return the
        count. (The emulator's jobs kept beside the outbox rotate their own.)"""
        async with self._locked() as data:
            return 0 if self._cipher is None else reseal_all(data, self._sealer)

    # --- internals --------------------------------------------------------------------
    def _insert(self, data: MemoryData, push: NewPush, now_us: int, due_us: int) -> PushRow:
        """Store ``push`` as PENDING unless its delivery id is known; its row either way."""
        row = data.pushes.get(push.delivery_id)
        if row is None:
            row = PushRow(
                seq=len(data.pushes) + 1,
                new=replace(push, target=replace(push.target, credentials=None, client_key=None)),
                credentials=self._sealer.seal(push.target.credentials),
                state=PushState.PENDING,
                next_attempt_at=due_us,
                created_at=now_us,
                updated_at=now_us,
            )
            data.pushes[push.delivery_id] = row
            keep_sealed(data.push_keys, push.delivery_id, self._sealer.seal(push.target.client_key))
            data.attempts[push.delivery_id] = []
            data.schedule.track(row)
            data.work.set()
        return row

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the memory store is closed; open a new one")

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[MemoryData]:
        self._check_open()
        async with self._data.lock:
            yield self._data

    def _account(self, account: Account, sealed: Sealed | None) -> Account:
        sealed_key = self._data.account_keys.get(account.customer_number)
        if sealed_key is not None:
            account = replace(account, push_client_key=self._sealer.open(sealed_key))
        if sealed is None:
            return account
        return replace(account, push_credentials=self._sealer.open(sealed))

    def _claimed(self, row: PushRow, until: datetime) -> ClaimedPush:
        return claimed_push(row, until, self._sealer, self._data.push_keys.get(row.new.delivery_id))

    def _record(self, row: PushRow) -> PushRecord:
        return push_record(row, self._sealer, self._data.push_keys.get(row.new.delivery_id))

    @staticmethod
    def _held(data: MemoryData, claims: Sequence[tuple[str, str]]) -> list[PushRow]:
        held: dict[str, PushRow] = {}
        for delivery_id, claim_id in claims:
            row = data.pushes.get(delivery_id)
            if row is not None and row.state is PushState.IN_FLIGHT and row.claim_id == claim_id:
                held[delivery_id] = row
        return list(held.values())


def _check_page(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise InputError(f"limit and offset must not be negative (got {limit}, {offset})")
