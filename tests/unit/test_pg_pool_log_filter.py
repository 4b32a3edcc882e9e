"""asyncpg's "cannot restore the pool connection floor" warnings: one line per interval,
without traceback; every other record passes untouched."""

from __future__ import annotations

import logging

import pytest

from faxpush._db.postgres_log import (
    POOL_LOGGER,
    PoolFloorLogFilter,
    quiet_pool_floor_warnings,
)

FLOOR = "Failed to restore the pool connection floor; retrying"  # as asyncpg logs it


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(message: str, *, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        with pytest.raises(type(error)) as raised:  # a real traceback, as logging gets it
            raise error
        exc_info = (raised.type, raised.value, raised.tb)
    return logging.LogRecord(
        POOL_LOGGER, logging.WARNING, "pool.py", 571, message, (), exc_info, "_maintain_min_size"
    )


def _refused() -> ConnectionRefusedError:
    return ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")


def test_the_first_floor_warning_is_one_line_naming_the_error() -> None:
    record = _record(FLOOR, error=_refused())

    assert PoolFloorLogFilter(clock=Clock()).filter(record)

    text = logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)
    assert text == (
        f"WARNING asyncpg.pool {FLOOR} (ConnectionRefusedError: "
        "[Errno 111] Connect call failed ('127.0.0.1', 5432))"
    )
    assert record.exc_info is None


def test_further_floor_warnings_wait_for_the_interval_and_are_counted() -> None:
    clock = Clock()
    quiet = PoolFloorLogFilter(60.0, clock=clock)
    assert quiet.filter(_record(FLOOR, error=_refused()))

    left_out = [quiet.filter(_record(FLOOR, error=_refused())) for _ in range(9)]
    clock.now += 59.9
    left_out.append(quiet.filter(_record(FLOOR, error=_refused())))
    assert left_out == [False] * 10

    clock.now += 0.1
    later = _record(FLOOR, error=_refused())
    assert quiet.filter(later)
    assert later.getMessage().endswith("; 10 more like it since the last one, not shown")
    clock.now += 60
    again = _record(FLOOR, error=_refused())
    assert quiet.filter(again)
    assert "more like it" not in again.getMessage()


def test_other_records_pass_untouched_with_their_traceback() -> None:
    quiet = PoolFloorLogFilter(clock=Clock())
    assert quiet.filter(_record(FLOOR, error=_refused()))
    for message in ("Pool.close() is taking over 60 seconds to complete.", "floor"):
        record = _record(message, error=RuntimeError("boom"))
        assert quiet.filter(record)
        assert record.getMessage() == message
        assert record.exc_info is not None
        assert "Traceback" in logging.Formatter().format(record)


def test_installed_once_on_asyncpgs_pool_logger(caplog: pytest.LogCaptureFixture) -> None:
    pool_logger = logging.getLogger(POOL_LOGGER)
    before = [found for found in pool_logger.filters if isinstance(found, PoolFloorLogFilter)]
    for found in before:
        pool_logger.removeFilter(found)
    try:
        quiet_pool_floor_warnings()
        quiet_pool_floor_warnings()
        installed = [f for f in pool_logger.filters if isinstance(f, PoolFloorLogFilter)]
        assert len(installed) == 1

        with caplog.at_level(logging.WARNING, logger=POOL_LOGGER):
            for _ in range(5):
                pool_logger.warning(FLOOR, exc_info=_record(FLOOR, error=_refused()).exc_info)
        assert [(r.name, r.exc_info) for r in caplog.records] == [(POOL_LOGGER, None)]
        assert "Traceback" not in caplog.text
    finally:
        for leftover in pool_logger.filters[:]:
            if isinstance(leftover, PoolFloorLogFilter):
                pool_logger.removeFilter(leftover)
        for found in before:
            pool_logger.addFilter(found)
