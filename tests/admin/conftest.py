"""The operator API tests share one running server per module (start and stop cost a few
hundred milliseconds); each test uses job ids of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .harness import Admin, running_admin, sqlite_settings

MAX_REQUEST_BYTES = 64 * 1024
MAX_BATCH = 5


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Admin]:
    settings = sqlite_settings(
        tmp_path_factory.mktemp("admin"),
        max_request_bytes=MAX_REQUEST_BYTES,
        admin_max_batch=MAX_BATCH,
    )
    async with running_admin(settings) as running:
        yield running
