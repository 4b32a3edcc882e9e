"""The dispatcher against a store that fails or races: backoff, one log line per outage,
and no lease reported lost for a push that was just finished.

The store is the real memory store with one method wrapped; sends are answered in process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from faxpush.core.errors import StorageError
from faxpush.core.settings import Settings
from faxpush.core.targets import PushTarget
from faxpush.delivery.dispatcher import Dispatcher
from faxpush.delivery.judge import SendOutcome
from faxpush.delivery.outage import Outage
from faxpush.storage.base import AttemptResult, ClaimedPush, NewPush, PushRecord, PushState
from faxpush.storage.memory import MemoryStore


@dataclass(frozen=True)
class Answered:
    http_status: int | None = 200
    error_class: str | None = None
    error_message: str | None = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    duration_ms: float = 1.0
    auth_steps: tuple[str, ...] = ()
    retry_after: str | None = None


async def answer_ok(_push: PushRecord) -> SendOutcome:
    return Answered()


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"poll_interval": 0.05, "lease_seconds": 3, "shutdown_grace": 1}
    values.update(overrides)
    return Settings(**values)


async def enqueue(store: MemoryStore, count: int) -> list[str]:
    ids = [f"d{n:03d}" for n in range(count)]
    for delivery_id in ids:
        push = NewPush(
            delivery_id, f"j{delivery_id}", PushTarget(url="http://127.0.0.1:9/"), "a/b", b"x"
        )
        await store.enqueue(push, now=datetime.now(UTC))
    return ids


@asynccontextmanager
async def running(dispatcher: Dispatcher) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def delivered(store: MemoryStore, count: int, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (await store.count_by_state())[PushState.DELIVERED] == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not all {count} pushes delivered in {seconds} s")


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


# --- claims that fail -----------------------------------------------------------------------
class FailingClaims(MemoryStore):
    """Claims fail (like a full disk) until ``healthy_at`` (monotonic seconds)."""

    def __init__(self, healthy_at: float) -> None:
        super().__init__()
        self.healthy_at = healthy_at
        self.failed_claims = 0

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
        if time.monotonic() < self.healthy_at:
            self.failed_claims += 1
            raise StorageError("cannot claim pushes: database or disk is full")
        return await super().claim(
            worker_id=worker_id,
            limit=limit,
            lease=lease,
            now=now,
            exclude_receivers=exclude_receivers,
            receiver_limit=receiver_limit,
            receiver_held=receiver_held,
        )


async def test_failing_claims_back_off_and_are_logged_once_per_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="faxpush.delivery")
    store = FailingClaims(healthy_at=time.monotonic() + 0.6)
    await enqueue(store, 3)
    # rng 0: each delay is half its ceiling, 25, 50, 100, 200, 400 ms: five tries in 0.6 s
    dispatcher = Dispatcher(store, answer_ok, settings(), hooks=(), rng=lambda: 0.0)
    async with running(dispatcher):
        await delivered(store, 3, seconds=5)
    assert 3 <= store.failed_claims <= 6  # the feeder's idle pace made it hundreds
    assert len(messages(caplog, "claiming pushes failed")) == 1
    assert messages(caplog, "claiming pushes failed")[0].levelno == logging.WARNING
    (recovered,) = messages(caplog, "claiming pushes works again")
    assert recovered.levelno == logging.INFO
    assert f"after {store.failed_claims} failed tries" in recovered.getMessage()


async def test_stop_is_not_held_up_by_the_claim_backoff() -> None:
    store = FailingClaims(healthy_at=time.monotonic() + 60)
    dispatcher = Dispatcher(store, answer_ok, settings(), hooks=(), rng=lambda: 1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(1.0)  # backoff has grown past 0.5 s
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 0.3


# --- a renewal racing a commit ----------------------------------------------------------------
class SlowRenewals(MemoryStore):
    """A renewal takes effect only after the next finish has committed, and a finish answers
    its caller late (as a busy connection pool may): the renewal sees the push finished."""

    def __init__(self) -> None:
        super().__init__()
        self.finished = asyncio.Event()
        self.renewals = 0

    async def renew(
        self, claims: Sequence[tuple[str, str]], *, lease: timedelta, now: datetime
    ) -> set[str]:
        self.renewals += 1
        await asyncio.wait_for(self.finished.wait(), 5)
        return await super().renew(claims, lease=lease, now=now)

    async def finish(self, results: Sequence[AttemptResult], *, now: datetime) -> set[str]:
        applied = await super().finish(results, now=now)
        self.finished.set()
        await asyncio.sleep(0.05)  # committed; the answer is still on its way
        return applied


async def test_a_push_finished_during_a_renewal_is_not_reported_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SlowRenewals()
    await enqueue(store, 1)
    sending = asyncio.Event()

    async def slow_send(_push: PushRecord) -> SendOutcome:
        sending.set()
        await asyncio.sleep(0.3)  # the renewer (every lease/3 = 0.1 s) starts meanwhile
        return Answered()

    dispatcher = Dispatcher(store, slow_send, settings(lease_seconds=0.3), hooks=())
    async with running(dispatcher):
        await delivered(store, 1)
        await asyncio.sleep(0.1)
    assert store.renewals >= 1
    assert not messages(caplog, "lost")


async def test_a_lease_taken_over_meanwhile_is_still_reported_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    (delivery_id,) = await enqueue(store, 1)
    release, sending = asyncio.Event(), asyncio.Event()

    async def stuck_send(_push: PushRecord) -> SendOutcome:
        sending.set()
        await asyncio.wait_for(release.wait(), 5)
        return Answered()

    dispatcher = Dispatcher(store, stuck_send, settings(lease_seconds=0.3), hooks=())
    async with running(dispatcher):
        await asyncio.wait_for(sending.wait(), 5)
        # another worker takes the push over, as once its lease has expired
        later = datetime.now(UTC) + timedelta(seconds=10)
        (taken,) = await store.claim(
            worker_id="other", limit=1, lease=timedelta(seconds=30), now=later
        )
        assert taken.push.delivery_id == delivery_id
        await asyncio.sleep(0.3)
        release.set()
    assert len(messages(caplog, f"lease on push {delivery_id} lost")) == 1


def test_backoff_doubles_from_50_ms_to_5_s_with_jitter_above_half() -> None:
    low = Outage("x", logging.getLogger("test"), rng=lambda: 0.0)
    high = Outage("x", logging.getLogger("test"), rng=lambda: 1.0)
    error = StorageError("down")
    assert [round(low.failed(error), 3) for _ in range(9)] == [
        0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.5, 2.5
    ]  # fmt: skip
    assert [round(high.failed(error), 3) for _ in range(9)] == [
        0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0
    ]  # fmt: skip
    high.succeeded()
    assert high.failed(error) == 0.05  # a new outage starts over


class FailingFinishes(MemoryStore):
    """Results cannot be recorded until ``healthy_at`` (monotonic seconds)."""

    def __init__(self, healthy_at: float) -> None:
        super().__init__()
        self.healthy_at = healthy_at
        self.failed_finishes = 0

    async def finish(self, results: Sequence[AttemptResult], *, now: datetime) -> set[str]:
        if time.monotonic() < self.healthy_at:
            self.failed_finishes += 1
            raise StorageError("cannot finish attempts: database or disk is full")
        return await super().finish(results, now=now)


async def test_failing_commits_are_retried_and_logged_once_per_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="faxpush.delivery")
    store = FailingFinishes(healthy_at=time.monotonic() + 0.5)
    await enqueue(store, 20)
    dispatcher = Dispatcher(store, answer_ok, settings(), hooks=(), rng=lambda: 0.0)
    async with running(dispatcher):
        await delivered(store, 20)
    assert 2 <= store.failed_finishes <= 6
    assert len(messages(caplog, "recording attempts failed")) == 1
    assert len(messages(caplog, "recording attempts works again")) == 1
    assert not messages(caplog, "could not record")
