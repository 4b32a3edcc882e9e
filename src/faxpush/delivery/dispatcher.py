"""The dispatcher: claims due pushes in batches, sends them, and group-commits the results.

Three cooperating tasks share one event loop:

* the *feeder* leases batches of due pushes from the store and hands them out, keeping at
  most ``concurrency`` sends in flight overall and ``per_host_concurrency`` per receiver, so
  one slow receiver cannot occupy every slot;
* the *committer* writes finished attempts in groups (every ``commit_batch`` results or
  ``commit_interval`` seconds): one transaction for many pushes instead of one each;
* the *renewer* extends the leases of everything held, and drops pushes whose lease was lost.

A send slot is only freed once its result is committed. The number of pushes that were sent
but not yet durably recorded is therefore never above ``concurrency``: that is the most a
SIGKILL can make us send twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from faxpush.core.errors import StorageError
from faxpush.core.outcome import Outcome, Verdict, classify
from faxpush.core.retry import next_attempt_at
from faxpush.core.settings import Settings
from faxpush.delivery.hooks import AttemptDetails, AttemptHook, call_hooks, log_attempt
from faxpush.delivery.http import display_url
from faxpush.storage.base import AttemptRecord, AttemptResult, ClaimedPush, PushRecord, Store

logger = logging.getLogger("faxpush.delivery")


class SendOutcome(Protocol):
    """What one HTTP attempt produced (see :mod:`faxpush.delivery.send`)."""

    @property
    def http_status(self) -> int | None: ...
    @property
    def error_class(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def response_headers(self) -> Mapping[str, str]: ...
    @property
    def response_body(self) -> bytes: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def auth_steps(self) -> tuple[str, ...]: ...
    @property
    def retry_after(self) -> str | None: ...


SendFn = Callable[[PushRecord], Awaitable[SendOutcome]]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _InternalFailure:
    """Stands in for a send that raised: recorded as a retryable internal error."""

    error_message: str
    duration_ms: float
    http_status: int | None = None
    error_class: str | None = "internal"
    retry_after: str | None = None
    auth_steps: tuple[str, ...] = ()
    response_body: bytes = b""

    @property
    def response_headers(self) -> Mapping[str, str]:
        return {}


def host_key(url: str) -> str:
    """The fairness key of a receiver: scheme, host and port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    return f"{parts.scheme}://{parts.hostname}:{port or ''}"


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
    ) -> None:
        self._store = store
        self._send = send
        self._settings = settings
        self._schedule = settings.retry_schedule
        self._hooks = hooks
        self._clock = clock
        self._rng = rng
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._max_held = settings.concurrency * 2
        self._held: dict[str, str] = {}  # delivery_id -> claim_id, everything we lease
        self._waiting: dict[str, deque[ClaimedPush]] = {}
        self._inflight_total = 0
        self._inflight_host: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending_results: list[tuple[AttemptResult, AttemptDetails, asyncio.Future[bool]]] = []
        self._results_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._stopping = False
        self.sent = 0  # attempts completed by this dispatcher (for progress and tests)

    # --- public ----------------------------------------------------------------------------
    def wake(self) -> None:
        """Tell the feeder that new work may be due (e.g. after an in-process enqueue)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return self._inflight_total

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then shut down gracefully."""
        committer = asyncio.create_task(self._commit_loop(), name="faxpush-committer")
        renewer = asyncio.create_task(self._renew_loop(), name="faxpush-renewer")
        try:
            await self._feed_loop(stop)
        finally:
            self._stopping = True
            await self._shutdown()
            renewer.cancel()
            self._results_ready.set()
            await committer
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    # --- feeding ---------------------------------------------------------------------------
    async def _feed_loop(self, stop: asyncio.Event) -> None:
        stop_wait = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                room = self._max_held - len(self._held)
                claimed = 0
                if room > 0:
                    claimed = await self._claim(min(room, self._settings.claim_batch))
                if stop.is_set():
                    break
                if claimed and claimed == min(room, self._settings.claim_batch):
                    if len(self._held) >= self._max_held:
                        await self._wait_for(self._room, stop_wait, self._settings.poll_interval)
                    continue
                await self._wait_for(self._wake, stop_wait, await self._idle_timeout())
        finally:
            stop_wait.cancel()

    async def _claim(self, limit: int) -> int:
        try:
            claims = await self._store.claim(
                worker_id=self.worker_id, limit=limit, lease=self._lease, now=self._clock()
            )
        except StorageError as exc:
            logger.warning("claiming pushes failed, will retry: %s", exc)
            return 0
        for claim in claims:
            self._held[claim.push.delivery_id] = claim.claim_id
            self._waiting.setdefault(host_key(claim.push.target.url), deque()).append(claim)
        self._dispatch()
        return len(claims)

    async def _idle_timeout(self) -> float:
        poll = self._settings.poll_interval
        try:
            due = await self._store.next_due_at()
        except StorageError:
            return poll
        if due is None:
            return poll
        return min(max((due - self._clock()).total_seconds(), 0.001), poll)

    async def _wait_for(
        self, event: asyncio.Event, stop_wait: asyncio.Task[bool], t: float
    ) -> None:
        waiter = asyncio.create_task(event.wait())
        try:
            await asyncio.wait({waiter, stop_wait}, timeout=t, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            event.clear()

    def _dispatch(self) -> None:
        """Start sends while global and per-host slots allow, round-robin over receivers."""
        limit, per_host = self._settings.concurrency, self._settings.per_host_concurrency
        progressed = True
        while progressed and self._inflight_total < limit and not self._stopping:
            progressed = False
            for host in list(self._waiting):
                queue = self._waiting[host]
                if not queue:
                    del self._waiting[host]
                    continue
                if self._inflight_host[host] >= per_host or self._inflight_total >= limit:
                    continue
                claim = queue.popleft()
                if self._held.get(claim.push.delivery_id) != claim.claim_id:
                    progressed = True  # lease lost while waiting: drop it
                    continue
                self._inflight_total += 1
                self._inflight_host[host] += 1
                task = asyncio.create_task(self._deliver(claim, host))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                progressed = True

    # --- one delivery ----------------------------------------------------------------------
    async def _deliver(self, claim: ClaimedPush, host: str) -> None:
        push = claim.push
        try:
            started = self._clock()
            try:
                outcome: SendOutcome = await self._send(push)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("sending push %s failed unexpectedly", push.delivery_id)
                elapsed = (self._clock() - started).total_seconds() * 1000
                outcome = _InternalFailure(f"{type(exc).__name__}: {exc}", elapsed)
            result, details = self._judge(claim, started, outcome)
            done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._pending_results.append((result, details, done))
            self._results_ready.set()
            await done
        finally:
            self._inflight_total -= 1
            self._inflight_host[host] -= 1
            if self._held.get(push.delivery_id) == claim.claim_id:
                del self._held[push.delivery_id]
            self._room.set()
            self._results_ready.set()  # lets the committer notice the last send at shutdown
            self._dispatch()

    def _judge(
        self, claim: ClaimedPush, started: datetime, sent: SendOutcome
    ) -> tuple[AttemptResult, AttemptDetails]:
        push = claim.push
        number = push.attempts + 1
        outcome: Outcome = classify(
            http_status=sent.http_status,
            error_class=sent.error_class,
            retry_client_errors=push.retry_client_errors,
        )
        verdict, reason, when = outcome.verdict, outcome.reason, None
        if verdict is Verdict.RETRY:
            when = next_attempt_at(
                self._schedule,
                attempts_made=number,
                now=self._clock(),
                retry_after=sent.retry_after,
                max_attempts=push.max_attempts,
                rng=self._rng,
            )
            if when is None:
                verdict, reason = Verdict.FAILED, f"gave up after {number} attempts: {reason}"
        error = None if verdict is Verdict.DELIVERED else reason
        if sent.error_message and verdict is not Verdict.DELIVERED:
            error = f"{reason}: {sent.error_message}"
        attempt = AttemptRecord(
            delivery_id=push.delivery_id,
            number=number,
            started_at=started,
            duration_ms=sent.duration_ms,
            http_status=sent.http_status,
            error_class=sent.error_class,
            error_message=sent.error_message,
            response_headers=dict(sent.response_headers),
            response_body=sent.response_body,
            auth_steps=tuple(sent.auth_steps),
        )
        result = AttemptResult(
            delivery_id=push.delivery_id,
            claim_id=claim.claim_id,
            attempt=attempt,
            verdict=verdict,
            next_attempt_at=when,
            error=error,
        )
        details = AttemptDetails(
            delivery_id=push.delivery_id,
            job_id=push.job_id,
            url=display_url(push.target.url),
            attempt=number,
            http_status=sent.http_status,
            error_class=sent.error_class,
            error_message=sent.error_message,
            duration_ms=sent.duration_ms,
            verdict=verdict,
            reason=reason,
            next_attempt_at=when,
            auth_steps=tuple(sent.auth_steps),
        )
        return result, details

    # --- group commit ----------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        settings = self._settings
        while True:
            if not self._pending_results:
                if self._stopping and self._inflight_total == 0:
                    return
                await self._results_ready.wait()
                self._results_ready.clear()
                continue
            if len(self._pending_results) < settings.commit_batch and not self._stopping:
                await asyncio.sleep(settings.commit_interval)
            batch = self._pending_results[: settings.commit_batch]
            del self._pending_results[: len(batch)]
            await self._commit(batch)

    async def _commit(
        self, batch: list[tuple[AttemptResult, AttemptDetails, asyncio.Future[bool]]]
    ) -> None:
        results = [r for r, _, _ in batch]
        applied: set[str] | None = None
        for delay in (0.05, 0.2, 1.0, 2.0, 5.0):
            try:
                applied = await self._store.finish(results, now=self._clock())
                break
            except StorageError as exc:
                logger.warning("recording %d attempts failed, retrying: %s", len(results), exc)
                await asyncio.sleep(delay)
        for result, details, done in batch:
            if applied is None:
                # Not recorded: the lease will expire and the push is sent again (at least once).
                logger.error("could not record attempt of push %s", result.delivery_id)
            else:
                ok = result.delivery_id in applied
                final = details if ok else _replace_applied(details)
                call_hooks(self._hooks, final)
            self.sent += 1
            if not done.done():
                done.set_result(applied is not None)

    # --- leases ----------------------------------------------------------------------------
    async def _renew_loop(self) -> None:
        interval = self._settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            if not self._held:
                continue
            pairs = list(self._held.items())
            try:
                kept = await self._store.renew(pairs, lease=self._lease, now=self._clock())
            except StorageError as exc:
                logger.warning("renewing %d leases failed: %s", len(pairs), exc)
                continue
            for delivery_id, claim_id in pairs:
                if delivery_id not in kept and self._held.get(delivery_id) == claim_id:
                    logger.warning("lease on push %s lost; another worker owns it", delivery_id)
                    del self._held[delivery_id]

    async def _shutdown(self) -> None:
        """Stop claiming, release what was not started, give sends a grace period."""
        waiting = [c for q in self._waiting.values() for c in q]
        self._waiting.clear()
        await self._release(waiting)
        if self._tasks:
            _, still = await asyncio.wait(set(self._tasks), timeout=self._settings.shutdown_grace)
            if still:
                logger.warning(
                    "%d pushes still sending after the grace period; releasing", len(still)
                )
                held = dict(self._held)
                for task in still:
                    task.cancel()
                await asyncio.gather(*still, return_exceptions=True)
                pending = {r.delivery_id for r, _, _ in self._pending_results}
                unsent = [(d, c) for d, c in held.items() if d not in pending]
                await self._release_pairs(unsent)

    async def _release(self, claims: list[ClaimedPush]) -> None:
        pairs = [(c.push.delivery_id, c.claim_id) for c in claims]
        for delivery_id, _ in pairs:
            self._held.pop(delivery_id, None)
        await self._release_pairs(pairs)

    async def _release_pairs(self, pairs: list[tuple[str, str]]) -> None:
        if not pairs:
            return
        try:
            await self._store.release(pairs, now=self._clock())
        except StorageError as exc:
            logger.warning(
                "releasing %d pushes failed (their leases will expire): %s", len(pairs), exc
            )


def _replace_applied(details: AttemptDetails) -> AttemptDetails:
    return replace(details, applied=False)
