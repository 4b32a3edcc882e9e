"""The metrics object: its own registry, the store figures read at most every interval,
and receipts counted by a bounded reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from faxpush._observe.metrics import Metrics
from faxpush.receiver.service import Receipt
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.memory import MemoryStore
from faxpush.storage.sqlite import SqliteStore
from tests.contract.builders import NOW, new_push


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    first.pushes_queued.inc()
    assert value(first, "faxpush_pushes_queued_total") == 1
    assert value(second, "faxpush_pushes_queued_total") == 0
    assert REGISTRY.get_sample_value("faxpush_pushes_queued_total") is None


async def test_store_figures_are_read_at_most_once_per_interval() -> None:
    clock = Clock()
    metrics = Metrics(CollectorRegistry(), store_every=10, monotonic=clock)
    store = MemoryStore(SecretCipher([generate_key()]))
    for n in range(2):
        await store.enqueue(new_push(f"p{n}"), now=NOW - timedelta(minutes=20))
    assert value(metrics, "faxpush_pushes", state="pending") is None  # nothing watched yet
    metrics.watch_store(store)
    await metrics.before_scrape()
    assert value(metrics, "faxpush_pushes", state="pending") == 2
    assert value(metrics, "faxpush_pushes", state="delivered") == 0
    age = value(metrics, "faxpush_oldest_pending_push_age_seconds")
    assert age is not None
    assert age > 20 * 60  # NOW is in the past: older than 20 minutes
    await store.enqueue(new_push("p2"), now=NOW)
    clock.now += 9.9
    await metrics.before_scrape()
    assert value(metrics, "faxpush_pushes", state="pending") == 2  # not read again yet
    clock.now += 0.2
    await metrics.before_scrape()
    assert value(metrics, "faxpush_pushes", state="pending") == 3


async def test_a_store_that_fails_shows_no_figures(tmp_path: Path) -> None:
    clock = Clock()
    metrics = Metrics(CollectorRegistry(), monotonic=clock)
    store = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([generate_key()]))
    await store.migrate()
    metrics.watch_store(store)
    await metrics.before_scrape()
    assert value(metrics, "faxpush_pushes", state="pending") == 0
    await store.close()
    clock.now += 60
    await metrics.before_scrape()  # the store fails: no stale figures
    assert value(metrics, "faxpush_pushes", state="pending") is None
    assert b"faxpush_pushes{" not in generate_latest(metrics.registry)


def test_receipts_are_counted_by_outcome_and_bounded_reason() -> None:
    metrics = Metrics(CollectorRegistry())
    for status, outcome, reason in [
        (200, "stored", None),
        (200, "duplicate", None),
        (401, "refused", "credentials rejected for user 'mallory'"),
        (503, "error", "database is locked"),
        (503, "refused", "the JWKS cannot be reached"),
        (418, "refused", "odd"),
    ]:
        metrics.observe_receipt(Receipt(status, outcome, "/any/path?x=1", 1.0, reason=reason))
    assert value(metrics, "faxpush_receiver_pushes_accepted_total", outcome="stored") == 1
    assert value(metrics, "faxpush_receiver_pushes_accepted_total", outcome="duplicate") == 1
    refused = "faxpush_receiver_pushes_refused_total"
    assert value(metrics, refused, reason="unauthorized") == 1
    assert value(metrics, refused, reason="storage_unavailable") == 1
    assert value(metrics, refused, reason="unavailable") == 1
    assert value(metrics, refused, reason="other") == 1
    assert b"mallory" not in generate_latest(metrics.registry)
