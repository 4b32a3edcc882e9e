"""Fixtures of the store contract suite: every test runs once per backend.

A backend is added with one more ``Backend`` implementation and one more ``params`` entry in
:func:`backend` (a PostgreSQL one would carry the ``postgres`` marker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest

from faxpush.storage.base import Store
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.memory import MemoryStore
from faxpush.storage.sqlite import SqliteStore


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
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def open(self, cipher: SecretCipher) -> Store:
        store = await SqliteStore.open(self.path, cipher)
        await store.migrate()
        return store

    def database_files(self) -> list[Path] | None:
        return sorted(self.path.parent.glob(f"{self.path.name}*"))


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


@pytest.fixture(params=["memory", "sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TrackingBackend]:
    inner: Backend
    if request.param == "memory":
        inner = MemoryBackend()
    else:
        inner = SqliteBackend(tmp_path / "contract.db")
    tracking = TrackingBackend(inner)
    yield tracking
    await tracking.close_all()


@pytest.fixture
async def store(backend: TrackingBackend, cipher: SecretCipher) -> Store:
    return await backend.open(cipher)
