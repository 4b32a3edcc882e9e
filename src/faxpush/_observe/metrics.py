"""Prometheus instruments of one process, on the registry its command made.

:class:`Metrics` holds every instrument faxpush exposes at ``/metrics`` (the list, with
labels and alert examples, is in docs/operations.md). Nothing registers on
prometheus_client's default registry: a command makes a :class:`CollectorRegistry`, builds
one :class:`Metrics` on it and hands it down; with ``FAXPUSH_METRICS=false`` it builds none
and nothing is measured.

Cost on the delivery path: one attempt hook (a counter and a histogram, through children
looked up once per verdict and auth method), one histogram sample per store transaction
(a claim or a group commit, not per push), and nothing per send for the in-flight gauge,
which reads the dispatcher's own count at scrape time: 1.3 µs of CPU per push in all, 0.7 %
of the worker's (docs/benchmarks.md, "Metrics cost"). Pushes per state and the oldest
pending push are read from the store at most every ``store_every`` seconds, when a scrape
asks, never on a timer of their own.

Every label has a small fixed set of values (verdicts, auth methods, operations, outcomes,
refusal reasons): never a URL, a job id or a delivery id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from faxpush.core.errors import REFUSAL_NAMES, StorageError
from faxpush.core.outcome import Verdict

logger = logging.getLogger("faxpush.metrics")

# Attempts: most answer in milliseconds; the send timeouts go up to tens of seconds.
ATTEMPT_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Store transactions: a group commit on a busy SQLite file takes a few ms; seconds are trouble.
STORE_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
STORE_EVERY_S: Final = 10.0
STORE_TIMEOUT_S: Final = 5.0


class Attempt(Protocol):
    """What the attempt hook reads (``faxpush.delivery.hooks.AttemptDetails``)."""

    @property
    def verdict(self) -> Verdict: ...
    @property
    def auth_method(self) -> str: ...  # an AuthMethod value
    @property
    def duration_ms(self) -> float: ...


class Receipt(Protocol):
    """What the receipt hook reads (``faxpush.receiver.service.Receipt``)."""

    @property
    def status(self) -> int: ...
    @property
    def outcome(self) -> str: ...


class CountsByState(Protocol):
    """The part of a store that pushes per state are read from."""

    async def count_by_state(self) -> Mapping[Any, int]: ...


class PendingRow(Protocol):
    @property
    def oldest_pending_at(self) -> datetime | None: ...


@runtime_checkable
class KnowsReceivers(Protocol):
    """A store with per-receiver counters (``OperatorStore.receiver_stats``)."""

    async def receiver_stats(
        self, *, now: datetime, receiver: str | None = None
    ) -> Sequence[PendingRow]: ...


class Metrics:
    """Every instrument of one process (see the module docstring)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        store_every: float = STORE_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.pushes_queued = Counter(
            "faxpush_pushes_queued", "Pushes queued by this process.", registry=registry
        )
        self.attempts = Counter(
            "faxpush_attempts",
            "Delivery attempts by verdict (delivered, retry, failed) and auth method.",
            ["verdict", "auth_method"],
            registry=registry,
        )
        self.attempt_duration = Histogram(
            "faxpush_attempt_duration_seconds",
            "Duration of one delivery attempt, auth steps included.",
            buckets=ATTEMPT_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "faxpush_sends_in_flight", "Pushes being sent right now.", registry=registry
        )
        self.token_fetches = Counter(
            "faxpush_oauth2_token_fetches",
            "Requests to OAuth2 token endpoints, by outcome (ok, error).",
            ["outcome"],
            registry=registry,
        )
        self.store_duration = Histogram(
            "faxpush_store_transaction_seconds",
            "Duration of the dispatcher's store transactions, by operation (claim, finish).",
            ["operation"],
            buckets=STORE_BUCKETS,
            registry=registry,
        )
        self.receiver_accepted = Counter(
            "faxpush_receiver_pushes_accepted",
            "Pushes this receiver answered 200, by outcome (stored, duplicate).",
            ["outcome"],
            registry=registry,
        )
        self.receiver_refused = Counter(
            "faxpush_receiver_pushes_refused",
            "Pushes this receiver refused or could not store, by reason.",
            ["reason"],
            registry=registry,
        )
        self._attempt_children: dict[tuple[Verdict, str], Any] = {}
        self._store_children: dict[str, Any] = {}
        self._store_state = StoreState(store_every=store_every, monotonic=monotonic)
        registry.register(self._store_state)

    # --- delivery --------------------------------------------------------------------------
    def observe_attempt(self, attempt: Attempt) -> None:
        """The dispatcher's attempt hook: count the attempt and sample its duration."""
        key = (attempt.verdict, attempt.auth_method)
        child = self._attempt_children.get(key)
        if child is None:
            child = self.attempts.labels(attempt.verdict.value, attempt.auth_method)
            self._attempt_children[key] = child
        child.inc()
        self.attempt_duration.observe(attempt.duration_ms / 1000)

    def observe_store(self, operation: str, seconds: float) -> None:
        """One store transaction of the dispatcher (``claim``, ``finish``) took ``seconds``."""
        child = self._store_children.get(operation)
        if child is None:
            child = self._store_children[operation] = self.store_duration.labels(operation)
        child.observe(seconds)

    def token_fetched(self, ok: bool) -> None:
        """A token endpoint answered with a token (``ok``) or did not."""
        self.token_fetches.labels("ok" if ok else "error").inc()

    def watch_in_flight(self, read: Callable[[], int]) -> None:
        """Read the number of sends in flight from ``read`` at each scrape."""
        self.in_flight.set_function(read)

    def watch_store(self, store: CountsByState) -> None:
        """Report pushes per state (and, when the store keeps receiver counters, the age of
        the oldest pending push) from ``store``, read at most every ``store_every`` s."""
        self._store_state.store = store

    async def before_scrape(self) -> None:
        """Called by ``/metrics`` before it renders: refreshes what is read from the store."""
        await self._store_state.refresh()

    # --- receiver --------------------------------------------------------------------------
    def observe_receipt(self, receipt: Receipt) -> None:
        """A receipt hook for :class:`~faxpush.receiver.service.PushReceiver`
        (``on_receipt=[metrics.observe_receipt]``)."""
        if receipt.status == 200:
            self.receiver_accepted.labels(receipt.outcome).inc()
            return
        reason = REFUSAL_NAMES.get(receipt.status, "other")
        if receipt.outcome == "error" and receipt.status == 503:
            reason = "storage_unavailable"
        self.receiver_refused.labels(reason).inc()


class StoreState(Collector):
    """Pushes per state and the oldest pending push's age, as last read from the store."""

    def __init__(self, *, store_every: float, monotonic: Callable[[], float]) -> None:
        self.store: CountsByState | None = None
        self._every = store_every
        self._monotonic = monotonic
        self._read_at: float | None = None
        self._counts: dict[str, int] = {}
        self._oldest_at: datetime | None = None
        self._has_oldest = False
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        if self.store is None:
            return
        async with self._lock:
            now = self._monotonic()
            if self._read_at is not None and now - self._read_at < self._every:
                return
            self._read_at = now
            try:
                await asyncio.wait_for(self._read(self.store), STORE_TIMEOUT_S)
            except (StorageError, TimeoutError) as exc:
                # Stale figures would look like a healthy, frozen backlog: show none.
                logger.debug("cannot read pushes per state for /metrics: %s", exc)
                self._counts, self._has_oldest = {}, False

    async def _read(self, store: CountsByState) -> None:
        counts = await store.count_by_state()
        self._counts = {str(state): count for state, count in counts.items()}
        if isinstance(store, KnowsReceivers):
            rows = await store.receiver_stats(now=datetime.now(UTC))
            times = [row.oldest_pending_at for row in rows if row.oldest_pending_at is not None]
            self._oldest_at, self._has_oldest = min(times, default=None), True

    def collect(self) -> Iterator[Metric]:
        if not self._counts:
            return
        per_state = GaugeMetricFamily(
            "faxpush_pushes",
            f"Pushes in the store by state (read at most every {self._every:g} s).",
            labels=["state"],
        )
        for state, count in sorted(self._counts.items()):
            per_state.add_metric([state], count)
        yield per_state
        if self._has_oldest:
            age = 0.0
            if self._oldest_at is not None:
                age = max(0.0, (datetime.now(UTC) - self._oldest_at).total_seconds())
            yield GaugeMetricFamily(
                "faxpush_oldest_pending_push_age_seconds",
                "Age of the oldest pending or in-flight push (0 when there is none).",
                value=age,
            )


__all__ = ["ATTEMPT_BUCKETS", "STORE_BUCKETS", "Metrics", "StoreState"]
