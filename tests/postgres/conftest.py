"""Fixtures of the PostgreSQL-specific tests: a database of one's own per test.

Every module here sets ``pytestmark = pytest.mark.postgres``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from faxpush._db.postgres import Reconnect
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.postgres import PostgresStore
from tests import pg_support

OpenStore = Callable[..., Awaitable[PostgresStore]]


@pytest.fixture
def cipher() -> SecretCipher:
    return SecretCipher([generate_key()])


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh database with the faxpush schema, dropped after the test."""
    pg_support.require_postgres()
    template = await pg_support.outbox_template()
    async with pg_support.fresh_database(template) as url:
        yield url


@pytest.fixture
async def empty_pg_url() -> AsyncIterator[str]:
    """A fresh database without any schema, dropped after the test."""
    pg_support.require_postgres()
    async with pg_support.fresh_database() as url:
        yield url


@pytest.fixture
async def open_store(pg_url: str, cipher: SecretCipher) -> AsyncIterator[OpenStore]:
    """Opens stores on the test database (closed after the test); keyword arguments go to
    :meth:`PostgresStore.open`."""
    opened: list[PostgresStore] = []

    async def open_(url: str | None = None, **options: Any) -> PostgresStore:
        options.setdefault("reconnect", Reconnect(budget_s=10.0, max_delay_s=0.5))
        store = await PostgresStore.open(url or pg_url, cipher, **options)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()
