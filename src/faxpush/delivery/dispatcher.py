"""The dispatcher: claims due pushes in batches, sends them, and group-commits the results.

Three cooperating tasks share one event loop:

* the *feeder* leases batches of due pushes from the store and hands them out, keeping at
  most ``concurrency`` sends in flight overall and ``per_host_concurrency`` per receiver.
  The worker holds at most twice the per-host limit for one receiver (a claim gives each
  receiver what is left of that share), so one hanging receiver cannot hold the others back;
* the *committer* writes finished attempts in groups (see ``committer``);
* the *renewer* extends the leases of everything held, and drops pushes whose lease was lost.
  A push this worker claims again after its own lease expired (the store was away) is
  never sent twice at once.

A store that fails (database down, disk full) is retried with capped exponential backoff,
logged once when it starts failing and once when it works again (see ``outage``). A claimed
push whose stored credentials cannot be opened (sealed with another key) is recorded as
failed without being sent, so that it cannot stop the others.

A send slot is only freed once its result is committed. The number of pushes that were sent
but not yet durably recorded is therefore never above ``concurrency``: that is the most a
SIGKILL can make us send twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import timedelta

from faxpush.core.clock import Clock, utcnow
from faxpush.core.errors import StorageError
from faxpush.core.settings import Settings
from faxpush.delivery.committer import Committer, StoreObserver
from faxpush.delivery.hooks import AttemptHook, log_attempt
from faxpush.delivery.judge import InternalFailure, SendOutcome, judge_attempt, not_sent
from faxpush.delivery.outage import Outage
from faxpush.storage.base import ClaimedPush, PushRecord, Store, receiver_key

logger = logging.getLogger("faxpush.delivery")

SendFn = Callable[[PushRecord], Awaitable[SendOutcome]]


# How long one wait for news from the store lasts (it is started again at once).
_NEWS_WAIT_S = 60.0


class Dispatcher:
    """Delivers pushes from a :class:`Store` until stopped. One instance per worker process."""

    def __init__(
        self,
        store: Store,
        send: SendFn,
        settings: Settings,
        *,
        hooks: tuple[AttemptHook, ...] = (log_attempt,),
        clock: Clock = utcnow,
        rng: Callable[[], float] = random.random,
        worker_id: str | None = None,
        observe_store: StoreObserver | None = None,
    ) -> None:
        self._store = store
        self._observe_store = observe_store
        self._send = send
        self._settings = settings
        self._schedule = settings.retry_schedule
        self._clock = clock
        self._rng = rng
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._max_held = settings.concurrency * 2
        self._receiver_cap = settings.per_host_concurrency * 2
        self._min_claim = max(1, min(settings.claim_batch, self._max_held) // 4)
        self._held: dict[str, tuple[str, str]] = {}  # delivery_id -> (claim_id, receiver)
        self._held_per_receiver: Counter[str] = Counter()
        self._waiting: dict[str, deque[ClaimedPush]] = {}
        self._inflight_total = 0
        self._inflight_per_receiver: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started: set[str] = set()  # delivery ids being sent or awaiting their commit
        self._reclaims: dict[str, ClaimedPush] = {}  # started pushes claimed again (see below)
        self._wake = asyncio.Event()
        self._claiming = Outage("claiming pushes", logger, rng=rng)
        self._renewing = Outage("renewing leases", logger, rng=rng)
        self._committer = Committer(
            store,
            hooks=hooks,
            clock=clock,
            batch_size=settings.commit_batch,
            reclaims=self._reclaims,
            recorded=self._recorded,
            rng=rng,
            observe_store=observe_store,
        )
        self._stopping = False
        self._claim_delay = 0.0  # how long to back off after the last failed claim

    # --- public ----------------------------------------------------------------------------
    def wake(self) -> None:
        """Tell the feeder that new work may be due (e.g. after an in-process enqueue)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return self._inflight_total

    @property
    def sent(self) -> int:
        """Attempts completed by this dispatcher (for progress and tests)."""
        return self._committer.sent

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then shut down gracefully."""
        committer = asyncio.create_task(
            self._committer.run(lambda: self._stopping and self._inflight_total == 0),
            name="faxpush-committer",
        )
        renewer = asyncio.create_task(self._renew_loop(), name="faxpush-renewer")
        listener = asyncio.create_task(self._listen_loop(), name="faxpush-news")
        try:
            await self._feed_loop(stop)
        finally:
            self._stopping = True
            await self._shutdown()
            renewer.cancel()
            listener.cancel()
            self._committer.nudge()
            await committer
            for task in (renewer, listener):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # --- feeding ---------------------------------------------------------------------------
    async def _feed_loop(self, stop: asyncio.Event) -> None:
        stop_wait = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                want = min(self._max_held - len(self._held), self._settings.claim_batch)
                if want < self._min_claim and self._held:
                    await self._wait(stop_wait, self._settings.poll_interval)
                    continue
                claimed, capped = await self._claim(want)
                if claimed is None:  # the store failed: back off, woken only by stop
                    await asyncio.wait({stop_wait}, timeout=self._claim_delay)
                    continue
                if claimed == want or capped or stop.is_set():
                    continue  # there may be more due right now (for other receivers)
                await self._wait(stop_wait, await self._idle_timeout())
        finally:
            stop_wait.cancel()

    async def _claim(self, limit: int) -> tuple[int | None, bool]:
        """Claim up to ``limit`` pushes: how many (None: the store failed), and whether a
        receiver's share ran out in this claim (pushes to others may be due behind it)."""
        cap, held = self._receiver_cap, self._held_per_receiver
        saturated = {r for r, n in held.items() if n >= cap}
        started = time.perf_counter()
        try:
            claims = await self._store.claim(
                worker_id=self.worker_id,
                limit=limit,
                lease=self._lease,
                now=self._clock(),
                exclude_receivers=saturated,
                receiver_limit=cap,
                receiver_held={r: n for r, n in held.items() if n < cap},
            )
        except StorageError as exc:
            self._claim_delay = self._claiming.failed(exc)
            return None, False
        finally:
            if self._observe_store is not None:
                self._observe_store("claim", time.perf_counter() - started)
        self._claiming.succeeded()
        capped = False
        for claim in claims:
            if claim.push.delivery_id in self._held:
                self._reclaimed(claim)
                continue
            receiver = receiver_key(claim.push.target.url)
            self._held[claim.push.delivery_id] = (claim.claim_id, receiver)
            held[receiver] += 1
            capped = capped or held[receiver] >= cap
            self._waiting.setdefault(receiver, deque()).append(claim)
        self._dispatch()
        return len(claims), capped

    def _reclaimed(self, claim: ClaimedPush) -> None:
        """Our own lease on a push expired while the store was away, and a claim returned it.

        The new claim replaces the old one. A push still being sent is never sent a second
        time at once: its result is recorded under the new claim, or, if it was already on
        its way to the store under the old one, the push is sent again after it."""
        delivery_id = claim.push.delivery_id
        receiver = self._held[delivery_id][1]
        self._held[delivery_id] = (claim.claim_id, receiver)
        if delivery_id in self._started:
            self._reclaims[delivery_id] = claim
        else:  # still waiting for a slot: the old claim is skipped when its turn comes
            self._waiting.setdefault(receiver, deque()).append(claim)

    async def _idle_timeout(self) -> float:
        poll = self._settings.poll_interval
        try:
            due = await self._store.next_due_at()
        except StorageError:
            return poll
        if due is None:
            return poll
        wait = (due - self._clock()).total_seconds()
        if wait <= 0 and any(n >= self._receiver_cap for n in self._held_per_receiver.values()):
            # The claim that led here took every due push it could, so those still due are
            # for receivers whose share is used up: freeing a slot there wakes the feeder.
            return poll
        return min(max(wait, 0.001), poll)

    async def _wait(self, stop_wait: asyncio.Task[bool], seconds: float) -> None:
        """Sleep until woken (enqueue, freed room, store notification), stopped or timed out."""
        waiters = {asyncio.create_task(self._wake.wait()), stop_wait}
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters - {stop_wait}:
                waiter.cancel()
            self._wake.clear()

    async def _listen_loop(self) -> None:
        """Wake the feeder when the store hears of new work from another process (one task
        for the whole run: a wait per idle pause would cost a task per pause)."""
        while True:
            try:
                news = await self._store.wait_for_work(_NEWS_WAIT_S)
            except StorageError:  # the feeder's own claims notice and report an outage
                await asyncio.sleep(self._settings.poll_interval)
                continue
            if news:
                self._wake.set()

    def _unhold(self, delivery_id: str, claim_id: str) -> None:
        held = self._held.get(delivery_id)
        if held is None or held[0] != claim_id:
            return
        del self._held[delivery_id]
        receiver = held[1]
        self._held_per_receiver[receiver] -= 1
        if self._held_per_receiver[receiver] <= 0:
            del self._held_per_receiver[receiver]
        room = self._max_held - len(self._held)
        if room >= self._min_claim or self._held_per_receiver[receiver] == self._receiver_cap - 1:
            self._wake.set()

    def _dispatch(self) -> None:
        """Start sends while global and per-receiver slots allow, round-robin over receivers."""
        limit, per_receiver = self._settings.concurrency, self._settings.per_host_concurrency
        progressed = True
        while progressed and self._inflight_total < limit and not self._stopping:
            progressed = False
            for receiver in list(self._waiting):
                queue = self._waiting[receiver]
                if not queue:
                    del self._waiting[receiver]
                    continue
                if self._inflight_per_receiver[receiver] >= per_receiver:
                    continue
                if self._inflight_total >= limit:
                    break
                claim = queue.popleft()
                progressed = True
                held = self._held.get(claim.push.delivery_id)
                if held is None or held[0] != claim.claim_id:
                    continue  # lease lost while waiting: another worker owns it
                self._inflight_total += 1
                self._inflight_per_receiver[receiver] += 1
                self._started.add(claim.push.delivery_id)
                task = asyncio.create_task(self._deliver(claim, receiver))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    # --- one delivery ----------------------------------------------------------------------
    async def _deliver(self, claim: ClaimedPush, receiver: str) -> None:
        push = claim.push
        queued = False
        try:
            started = self._clock()
            try:
                outcome: SendOutcome = (
                    not_sent(claim.unreadable)
                    if claim.unreadable is not None
                    else await self._send(push)
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("sending push %s failed unexpectedly", push.delivery_id)
                elapsed = (self._clock() - started).total_seconds() * 1000
                outcome = InternalFailure(f"{type(exc).__name__}: {exc}", elapsed)
            result, details = judge_attempt(
                claim,
                outcome,
                started=started,
                now=self._clock(),
                schedule=self._schedule,
                rng=self._rng,
            )
            # From here the committer owns the send slot and frees it once the result is
            # committed, so this task ends without waiting for the transaction.
            self._committer.add((result, details, claim, receiver))
            queued = True
        finally:
            if not queued:
                self._free_slot(claim, receiver)
                self._committer.nudge()  # lets it notice the last send at shutdown
                self._dispatch()

    def _free_slot(self, claim: ClaimedPush, receiver: str, recorded_as: str = "") -> None:
        self._inflight_total -= 1
        self._inflight_per_receiver[receiver] -= 1
        delivery_id = claim.push.delivery_id
        self._started.discard(delivery_id)
        again = self._reclaims.pop(delivery_id, None)
        if again is not None and again.claim_id != recorded_as:
            self._waiting.setdefault(receiver, deque()).append(again)
            return
        self._unhold(delivery_id, recorded_as or claim.claim_id)

    def _recorded(self, group: list[tuple[ClaimedPush, str, str]]) -> None:
        for claim, receiver, claim_id in group:
            self._free_slot(claim, receiver, recorded_as=claim_id)
        self._dispatch()

    # --- leases and shutdown ---------------------------------------------------------------
    async def _renew_loop(self) -> None:
        interval = self._settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            if not self._held:
                continue
            pairs = [(d, claim_id) for d, (claim_id, _) in self._held.items()]
            try:
                kept = await self._store.renew(pairs, lease=self._lease, now=self._clock())
            except StorageError as exc:
                self._renewing.failed(exc)  # the next round tries again; leases outlast it
                continue
            self._renewing.succeeded()
            for delivery_id, claim_id in pairs:
                if delivery_id in kept or not self._still_held(delivery_id, claim_id):
                    continue
                logger.warning("lease on push %s lost; another worker owns it", delivery_id)
                self._unhold(delivery_id, claim_id)

    def _still_held(self, delivery_id: str, claim_id: str) -> bool:
        """Whether the push is held under ``claim_id`` and not finished: a push whose result
        was committed while the renewal ran is not renewed, yet its lease was not lost."""
        held = self._held.get(delivery_id)
        finishing = self._committer.finishing
        return held is not None and held[0] == claim_id and delivery_id not in finishing

    async def _shutdown(self) -> None:
        """Stop claiming, release what was not started, give sends a grace period."""
        waiting = [c for q in self._waiting.values() for c in q]
        self._waiting.clear()
        pairs = [(c.push.delivery_id, c.claim_id) for c in waiting]
        for delivery_id, claim_id in pairs:
            self._unhold(delivery_id, claim_id)
        await self._release(pairs)
        if not self._tasks:
            return
        _, still = await asyncio.wait(set(self._tasks), timeout=self._settings.shutdown_grace)
        if still:
            logger.warning("%d pushes still sending after the grace period; releasing", len(still))
            recorded = self._committer.waiting()
            unsent = [(d, c) for d, (c, _) in self._held.items() if d not in recorded]
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
            await self._release(unsent)

    async def _release(self, pairs: list[tuple[str, str]]) -> None:
        if not pairs:
            return
        try:
            await self._store.release(pairs, now=self._clock())
        except StorageError as exc:
            logger.warning("releasing %d pushes failed (leases will expire): %s", len(pairs), exc)
