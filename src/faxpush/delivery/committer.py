"""The dispatcher's group commit: finished attempts are written to the store in groups.

Everything that finished while the previous transaction ran (at most ``batch_size``) goes
into the next one, so under load one transaction carries many pushes and an idle worker
commits at once. A store that fails is retried with backoff for ``_PATIENCE_S``; after that
the attempts are given up (their leases expire and the pushes are sent again: at least once).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from faxpush.core.errors import StorageError
from faxpush.delivery.hooks import AttemptDetails, AttemptHook, call_hooks
from faxpush.delivery.outage import Outage
from faxpush.storage.base import AttemptResult, ClaimedPush, Store

logger = logging.getLogger("faxpush.delivery")

# Told how long each store transaction took: (operation, seconds); metrics use it.
StoreObserver = Callable[[str, float], None]
# A finished attempt waiting for its commit, with the send slot (receiver) it still occupies.
Pending = tuple[AttemptResult, AttemptDetails, ClaimedPush, str]
# How long one group is retried before it is given up; shorter than a lease, longer than a
# database restart.
_PATIENCE_S = 8.0


class Committer:
    """Collects finished attempts (:meth:`add`) and commits them in groups (:meth:`run`).

    ``reclaims`` (the dispatcher's own mapping) holds, by delivery id, the claim a result
    must be recorded under when the worker claimed the push again while it was being sent;
    ``recorded`` gets ``(claim, receiver, claim_id)`` of every attempt once its group is
    done, committed or given up, with the claim id it was recorded under: once per group."""

    def __init__(
        self,
        store: Store,
        *,
        hooks: tuple[AttemptHook, ...],
        clock: Callable[[], datetime],
        batch_size: int,
        reclaims: Mapping[str, ClaimedPush],
        recorded: Callable[[list[tuple[ClaimedPush, str, str]]], None],
        rng: Callable[[], float] = random.random,
        observe_store: StoreObserver | None = None,
    ) -> None:
        self._store = store
        self._observe_store = observe_store
        self._hooks = hooks
        self._clock = clock
        self._batch_size = batch_size
        self._reclaims = reclaims
        self._recorded = recorded
        self._outage = Outage("recording attempts", logger, rng=rng)
        self._pending: list[Pending] = []
        self._ready = asyncio.Event()
        self.finishing: set[str] = set()  # delivery ids whose results await their commit
        self.sent = 0  # attempts done (committed or given up)

    def add(self, pending: Pending) -> None:
        self._pending.append(pending)
        self.finishing.add(pending[0].delivery_id)
        self._ready.set()

    def nudge(self) -> None:
        """Wake :meth:`run` to check whether it may stop."""
        self._ready.set()

    def waiting(self) -> set[str]:
        """The delivery ids whose results are queued for a commit."""
        return {result.delivery_id for result, _, _, _ in self._pending}

    async def run(self, finished: Callable[[], bool]) -> None:
        """Commit until nothing is pending and ``finished()`` says no more will come."""
        while True:
            if not self._pending:
                if finished():
                    return
                await self._ready.wait()
                self._ready.clear()
                continue
            batch = self._pending[: self._batch_size]
            del self._pending[: len(batch)]
            await self._commit(batch)

    async def _commit(self, batch: list[Pending]) -> None:
        results = [result for result, _, _, _ in batch]
        if self._reclaims:  # rare: the store was away for longer than a lease
            results = [self._under_current_claim(result) for result in results]
        applied: set[str] | None = None
        give_up = time.monotonic() + _PATIENCE_S
        while applied is None:
            started = time.perf_counter()
            try:
                applied = await self._store.finish(results, now=self._clock())
            except StorageError as exc:
                self._took(started)
                delay = self._outage.failed(exc)
                if time.monotonic() + delay > give_up:
                    break
                await asyncio.sleep(delay)
            else:
                self._took(started)
                self._outage.succeeded()
        if applied is None:
            logger.error(
                "could not record %d attempts (pushes %s); they will be sent again",
                len(results),
                ", ".join(r.delivery_id for r in results[:5]) + (", …" if len(results) > 5 else ""),
            )
        done = []
        for result, (_, details, claim, receiver) in zip(results, batch, strict=True):
            if applied is not None:
                ok = result.delivery_id in applied
                call_hooks(self._hooks, details if ok else replace(details, applied=False))
            self.sent += 1
            self.finishing.discard(result.delivery_id)
            done.append((claim, receiver, result.claim_id))
        self._recorded(done)

    def _took(self, started: float) -> None:
        if self._observe_store is not None:
            self._observe_store("finish", time.perf_counter() - started)

    def _under_current_claim(self, result: AttemptResult) -> AttemptResult:
        again = self._reclaims.get(result.delivery_id)
        return result if again is None else replace(result, claim_id=again.claim_id)
