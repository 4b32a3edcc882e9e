"""Single ingests stored together: one transaction for the pushes that arrive at once.

Each ``POST /api/v1/pushes`` was one transaction (one commit, one fsync on SQLite) of its
own, and the commit was about a third of the request's CPU. Through
:class:`~faxpush._db.group_commit.GroupCommit` the pushes that arrive while a batch is being
committed go into the next one (``enqueue_many``, all or none): an idle server adds no
delay, a busy one pays one commit per batch. An answer still waits for the commit that
holds its push.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from faxpush._db.group_commit import GroupCommit
from faxpush.storage.base import NewPush, PushRecord
from faxpush.storage.operator import OperatorStore


class PushQueue:
    """Enqueue pushes one by one; they are stored in batches of at most ``max_batch``."""

    def __init__(
        self, store: OperatorStore, clock: Callable[[], datetime], *, max_batch: int
    ) -> None:
        self._store, self._clock = store, clock
        self._commit: GroupCommit[NewPush, PushRecord] = GroupCommit(
            self._write, max_batch=max_batch
        )

    async def enqueue(self, push: NewPush) -> PushRecord:
        """Store ``push`` as PENDING with the next batch (idempotent per delivery id)."""
        return await self._commit.submit(push)

    async def _write(self, pushes: list[NewPush]) -> Sequence[PushRecord]:
        # Concurrent repeats of one Idempotency-Key carry the same delivery id: store the
        # first of them once and answer all of them with it.
        unique: dict[str, NewPush] = {}
        for push in pushes:
            unique.setdefault(push.delivery_id, push)
        records = await self._store.enqueue_many(list(unique.values()), now=self._clock())
        stored = {record.delivery_id: record for record in records}
        return [stored[push.delivery_id] for push in pushes]


__all__ = ["PushQueue"]
