"""Attempt deadlines kept by one timer (faxpush.delivery.deadlines), on a real event loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from faxpush.delivery.deadlines import Deadlines, ReceiverSilentError


async def _wait(deadlines: Deadlines, *, total: float, silence: float) -> None:
    with deadlines.watch(total) as watch:
        watch.silence(silence)
        await asyncio.sleep(5)


async def _trickle(deadlines: Deadlines, *, total: float, silence: float, every: float) -> None:
    """Like reading a body whose chunks come ``every`` seconds apart."""
    with deadlines.watch(total) as watch:
        for _ in range(100):
            watch.silence(silence)
            await asyncio.sleep(every)


async def test_a_watch_that_ends_in_time_changes_nothing() -> None:
    deadlines = Deadlines()
    with deadlines.watch(5) as watch:
        watch.silence(1)
        await asyncio.sleep(0)
    assert not watch.expired
    assert deadlines.watching == 0
    await asyncio.sleep(0.01)  # no stray cancellation arrives later


async def test_the_total_limit_raises_timeout_error() -> None:
    deadlines = Deadlines()
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught, deadlines.watch(0.05):
        await asyncio.sleep(5)
    assert not isinstance(caught.value, ReceiverSilentError)
    assert 0.04 <= time.monotonic() - started < 1
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0
    await asyncio.sleep(0)  # the task is usable afterwards


async def test_the_silence_limit_raises_receiver_silent() -> None:
    deadlines = Deadlines()
    started = time.monotonic()
    with pytest.raises(ReceiverSilentError):
        await _wait(deadlines, total=5, silence=0.05)
    assert time.monotonic() - started < 1


async def test_renewed_silence_lets_a_slow_trickle_run_until_the_total() -> None:
    deadlines = Deadlines()
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        await _trickle(deadlines, total=0.3, silence=0.1, every=0.02)
    elapsed = time.monotonic() - started
    assert not isinstance(caught.value, ReceiverSilentError)
    assert 0.25 <= elapsed < 1.5


async def test_a_silence_limit_beyond_the_total_is_the_total() -> None:
    deadlines = Deadlines()
    with pytest.raises(TimeoutError) as caught:
        await _wait(deadlines, total=0.05, silence=10)
    assert not isinstance(caught.value, ReceiverSilentError)


async def test_an_outside_cancellation_still_cancels() -> None:
    deadlines = Deadlines()

    async def attempt() -> None:
        with deadlines.watch(5):
            await asyncio.sleep(5)

    task = asyncio.create_task(attempt())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines.watching == 0


async def test_many_attempts_share_one_timer_and_each_gets_its_own_limit() -> None:
    deadlines = Deadlines()
    started = time.monotonic()

    async def attempt(limit: float, work: float) -> float | None:
        """Seconds until the attempt timed out, None when it finished."""
        try:
            with deadlines.watch(limit):
                await asyncio.sleep(work)
        except TimeoutError:
            return time.monotonic() - started
        return None

    # The 0.1 s watch is registered after the 0.5 s one: the single timer must be moved
    # forward for it, or it would only fire at 0.5 s.
    done, late, early, also_done = await asyncio.gather(
        attempt(5, 0.01), attempt(0.5, 5), attempt(0.1, 5), attempt(5, 0.05)
    )
    assert done is None
    assert also_done is None
    assert early is not None
    assert 0.09 <= early < 0.4
    assert late is not None
    assert 0.45 <= late < 2
    assert deadlines.watching == 0


async def test_a_watch_needs_a_task() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    failure: list[BaseException] = []

    def outside_a_task() -> None:
        try:
            deadlines.watch(1)
        except RuntimeError as exc:
            failure.append(exc)

    loop.call_soon(outside_a_task)
    await asyncio.sleep(0.01)
    assert failure
    assert "task" in str(failure[0])


def test_one_deadlines_object_serves_successive_event_loops() -> None:
    deadlines = Deadlines()

    async def time_out() -> bool:
        try:
            with deadlines.watch(0.05):
                await asyncio.sleep(5)
        except TimeoutError:
            return True
        return False

    assert asyncio.run(time_out())
    assert asyncio.run(time_out())  # a timer of the first, closed loop must not be relied on
