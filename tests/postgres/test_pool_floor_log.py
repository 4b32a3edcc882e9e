"""While PostgreSQL is away, asyncpg's pool warns at every try to reconnect its idle
connection; the store keeps that to one line, without traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from faxpush._db.postgres_log import POOL_LOGGER, PoolFloorLogFilter
from tests.faults import FaultProxy

from .conftest import OpenStore
from .test_faults_pg import through

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]

FLOOR = "Failed to restore the pool connection floor"
# asyncpg tries again after 1 s, then 2 s: three tries in this time.
CUT_S = 3.5


@pytest.fixture
def fresh_filter() -> Iterator[None]:
    """No filter left from earlier tests (nor its memory of their warnings): the store
    installs its own."""
    pool_logger = logging.getLogger(POOL_LOGGER)
    earlier = [found for found in pool_logger.filters if isinstance(found, PoolFloorLogFilter)]
    for found in earlier:
        pool_logger.removeFilter(found)
    yield
    for leftover in pool_logger.filters[:]:
        if isinstance(leftover, PoolFloorLogFilter):
            pool_logger.removeFilter(leftover)
    for found in earlier:
        pool_logger.addFilter(found)


@pytest.mark.usefixtures("fresh_filter")
async def test_a_cut_database_gives_one_pool_warning_without_traceback(
    open_store: OpenStore, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    pg = urlsplit(pg_url)
    assert pg.hostname in ("127.0.0.1", "localhost", "::1"), "the proxy forwards to loopback"
    async with FaultProxy(pg.port or 5432) as proxy:
        store = await open_store(through(proxy, pg_url))
        assert await store.get_push("nothing") is None  # the pool's connection is up
        with caplog.at_level(logging.WARNING, logger=POOL_LOGGER):
            assert proxy.cut() >= 1
            await asyncio.sleep(CUT_S)
            proxy.restore()
            floor = [r for r in caplog.records if r.getMessage().startswith(FLOOR)]
            assert len(floor) == 1, [r.getMessage() for r in floor]
            assert floor[0].exc_info is None
            assert "Traceback" not in caplog.text
        assert await store.get_push("nothing") is None  # and it is back
        await store.close()
