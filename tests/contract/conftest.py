"""Fixtures of the store contract suite: every test runs once per backend.

A backend is added with one more ``Backend`` implementation and one more ``params`` entry in
:func:`backend`. The PostgreSQL one carries the ``postgres`` marker; it needs a server (see
``tests/pg_support.py``) and gives each test a database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest

from faxpush.storage.base import Store
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.jobs_base import JobStore
from faxpush.storage.jobs_factory import open_jobs
from faxpush.storage.memory import MemoryStore
from faxpush.storage.operator import OperatorStore
from faxpush.storage.postgres import PostgresStore
from faxpush.storage.sqlite import SqliteStore
from tests import pg_support


class Backend(Protocol):
    """Opens handles on one database of one backend."""

    name: str

    async def open(self, cipher: SecretCipher) -> Store:
        """A new, migrated handle on the same database (a new connection for SQL backends)."""

    def database_files(self) -> list[Path] | None:
        """The files holding the data, or None when the backend keeps none."""


class MemoryBackend:
    name = "memory"

    def __init__(self) -> None:
        self._first: MemoryStore | None = None

    async def open(self, cipher: SecretCipher) -> Store:
        if self._first is None:
            self._first = MemoryStore(cipher)
            store = self._first
        else:
            store = self._first.reopen(cipher)
        await store.migrate()
        return store

    def database_files(self) -> list[Path] | None:
        return None


class SqliteBackend:
    """SQLite; with ``store_process``, claims and results run in a store process."""

    def __init__(self, path: Path, *, store_process: bool = False) -> None:
        self.path = path
        self.store_process = store_process
        self.name = "sqlite-process" if store_process else "sqlite"

    async def open(self, cipher: SecretCipher) -> Store:
        store = await SqliteStore.open(self.path, cipher, store_process=self.store_process)
        await store.migrate()
        return store

    def database_files(self) -> list[Path] | None:
        return sorted(self.path.parent.glob(f"{self.path.name}*"))


class PostgresBackend:
    """A database of its own, copied from the migrated template; dropped by :meth:`drop`."""

    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url

    @classmethod
    async def create(cls) -> PostgresBackend:
        pg_support.require_postgres()
        template = await pg_support.outbox_template()
        return cls(await pg_support.create_database(template))

    async def open(self, cipher: SecretCipher) -> Store:
        store = await PostgresStore.open(self.url, cipher, max_connections=4)
        await store.migrate()
        return store

    def database_files(self) -> list[Path] | None:
        return None  # the server's files are not ours to read; tests/postgres checks the rows

    async def drop(self) -> None:
        await pg_support.drop_database(self.url)


class TrackingBackend:
    """Closes every handle a test opened."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.opened: list[Store] = []

    async def open(self, cipher: SecretCipher) -> Store:
        store = await self.inner.open(cipher)
        self.opened.append(store)
        return store

    def database_files(self) -> list[Path] | None:
        return self.inner.database_files()

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()


@pytest.fixture
def cipher() -> SecretCipher:
    return SecretCipher([generate_key()])


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        "sqlite-process",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TrackingBackend]:
    inner: Backend
    if request.param == "memory":
        inner = MemoryBackend()
    elif request.param == "postgres":
        inner = await PostgresBackend.create()
    else:
        inner = SqliteBackend(
            tmp_path / "contract.db", store_process=request.param == "sqlite-process"
        )
    tracking = TrackingBackend(inner)
    yield tracking
    await tracking.close_all()
    if isinstance(inner, PostgresBackend):
        await inner.drop()


@pytest.fixture
async def store(backend: TrackingBackend, cipher: SecretCipher) -> Store:
    return await backend.open(cipher)


@pytest.fixture
async def operator_store(store: Store) -> OperatorStore:
    """``store`` as the operator API uses it (every backend is an OperatorStore)."""
    assert isinstance(store, OperatorStore)
    return store


# --- the emulator's job store (faxpush.storage.jobs_base) --------------------------------
# The job store lives in the outbox store's database; every test gets the one of ``store``.


@pytest.fixture
async def jobs(store: Store) -> JobStore:
    return await open_jobs(store)
